"""Types shared by every request and result schema."""
