"""Fixtures: databases (SQLite always, PostgreSQL when IMGOPEN_TEST_DATABASE_URL is set),
settings, services and a real server speaking HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy import create_engine, text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# pytest runs two worker processes on two cores: one torch thread each. More threads only wait
# for each other (OpenMP spins), which made tiny-model tests 10 to 20 times slower.
os.environ.setdefault("IMGOPEN_TORCH_THREADS", "1")
torch.set_num_threads(int(os.environ["IMGOPEN_TORCH_THREADS"]))

from imgopen.client import Client  # noqa: E402 (after the environment above)
from imgopen.config import Settings  # noqa: E402
from imgopen.services import Services, build_services  # noqa: E402
from imgopen.testing.server import free_port  # noqa: E402
from imgopen.testing.threaded_server import ThreadedServer  # noqa: E402

PG_URL = os.environ.get("IMGOPEN_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections use a new, empty PostgreSQL schema (dropped afterwards)."""
    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for the module: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'imgopen.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def fresh_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like database_url (same backend), but for one test alone."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'imgopen.db'}"
        return
    with postgres_schema() as url:
        yield url


SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="module")
def make_settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        data_dir = tmp_path_factory.mktemp("data")
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "models_dir": data_dir / "models",
            "database_url": database_url,
            "port": free_port(),
            "create_first_key": False,
            "lease_seconds": 5.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


class Served:
    """A running server with one key, and a client for it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.server = ThreadedServer(services).start()
        self.base_url = self.server.base_url
        created = services.keys.create("test")
        self.key_id, self.secret = created.id, created.secret
        self.callback_secret = created.callback_secret
        self.client = Client(self.base_url, created.id, created.secret)

    def new_client(self, name: str = "other") -> Client:
        created = self.services.keys.create(name)
        return Client(self.base_url, created.id, created.secret)

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture(scope="module")
def served(make_settings: SettingsFactory) -> Iterator[Served]:
    """The whole server (API, workers, callbacks) on SQLite / PostgreSQL, over real HTTP."""
    services = build_services(make_settings())
    running = Served(services)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with every kind of tiny random-weight model (written once per worker)."""
    from imgopen.testing.tiny_models import write_models_folder

    root = tmp_path_factory.mktemp("models")
    write_models_folder(root)
    return root


@pytest.fixture
def bid() -> Callable[[str], str]:
    """Makes unique businessTaskIds."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make
