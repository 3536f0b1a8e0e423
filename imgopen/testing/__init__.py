"""Helpers that tests and benchmarks share: test images, a real server process, local HTTP peers."""
