"""What every role shares: settings, database, keys, tasks, storage, image inputs, the catalog's
metadata and the workers table. Nothing here loads a model."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from imgopen.accounts.keys import KeyStore
from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import Database, open_database
from imgopen.media.address_policy import AddressPolicy
from imgopen.media.fetch import Fetcher, FetchLimits
from imgopen.media.inputs import ImageInputs, InputLimits
from imgopen.metrics import Metrics
from imgopen.storage.base import Storage
from imgopen.storage.factory import open_storage
from imgopen.tasks.store import TaskStore
from imgopen.tasks.workers import WorkerDirectory


@dataclass
class Core:
    settings: Settings
    db: Database
    keys: KeyStore
    tasks: TaskStore
    storage: Storage
    policy: AddressPolicy
    fetcher: Fetcher
    inputs: ImageInputs
    metrics: Metrics
    catalog: ModelCatalog
    workers: WorkerDirectory

    def shared(self) -> dict[str, Any]:
        """The core's parts by name, to build a role's services on top of them."""
        return {item.name: getattr(self, item.name) for item in fields(Core)}


def build_core(settings: Settings) -> Core:
    db = open_database(settings)
    store = TaskStore(db, settings.task_prefix)
    storage = open_storage(settings)
    policy = AddressPolicy(settings.url_allowlist)
    fetcher = Fetcher(
        policy, FetchLimits(settings.max_input_bytes, settings.fetch_timeout_seconds, settings.max_redirects)
    )
    inputs = ImageInputs(
        fetcher, storage, InputLimits(settings.max_input_bytes, settings.max_input_pixels), owners=store.owner_of
    )
    return Core(
        settings=settings,
        db=db,
        keys=KeyStore(db),
        tasks=store,
        storage=storage,
        policy=policy,
        fetcher=fetcher,
        inputs=inputs,
        metrics=Metrics(),
        catalog=ModelCatalog(settings.models_dir.resolve(), db, settings.catalog_rescan_seconds),
        workers=WorkerDirectory(db, settings.heartbeat_seconds),
    )
