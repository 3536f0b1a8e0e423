"""Access keys: creation, verification, disabling."""
