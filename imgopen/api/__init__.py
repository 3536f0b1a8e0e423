"""The HTTP face: app factory, envelope and error codes, auth, routes, answer views."""
