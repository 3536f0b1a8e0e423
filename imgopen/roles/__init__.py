"""The shapes one imgopen process can take, each composed in one place: `core` (what every role
shares), `api` (HTTP only: no model library is imported), `worker` (models, engine, tools). The
all-in-one `imgopen serve` is both in one process (imgopen/services.py)."""
