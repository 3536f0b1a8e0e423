"""ControlNet preprocessors (annotators), grouped by kind; the registry is vision/preprocessors.py."""
