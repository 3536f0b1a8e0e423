"""Route groups of the API."""
