"""Alembic environment: the engine comes from imgopen (see db.engine.migrate), never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from imgopen.db.tables import Base

engine: Engine = context.config.attributes["engine"]
# Several processes of a cluster (API, workers) may start at once on one PostgreSQL database: the
# first to take this lock migrates, the others wait and then find nothing to do.
MIGRATION_LOCK = 7234019

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
