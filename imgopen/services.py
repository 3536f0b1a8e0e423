"""The services of one imgopen process, built from Settings and passed to whoever needs them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imgopen.accounts.keys import KeyStore
from imgopen.api.views import TaskViews
from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import Database, open_database
from imgopen.engine.handler import GenerationHandler
from imgopen.engine.service import DiffusionEngine
from imgopen.media.address_policy import AddressPolicy
from imgopen.media.fetch import Fetcher, FetchLimits
from imgopen.media.inputs import ImageInputs, InputLimits
from imgopen.metrics import Metrics
from imgopen.storage.local import LocalStorage
from imgopen.storage.signing import UrlSigner
from imgopen.tasks.callbacks import CallbackDispatcher
from imgopen.tasks.handlers import TaskHandler
from imgopen.tasks.inprocess import InProcessExecutor
from imgopen.tasks.leases import LeaseKeeper
from imgopen.tasks.runner import TaskRunner
from imgopen.tasks.store import TaskStore
from imgopen.tasks.submit import TaskSubmitter
from imgopen.tasks.waiters import TaskWaiters
from imgopen.tools.builtin import builtin_tools
from imgopen.tools.handler import ToolTaskHandler
from imgopen.tools.registry import AnyTool, ToolRegistry
from imgopen.training.handler import TrainingHandler

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    keys: KeyStore
    tasks: TaskStore
    storage: LocalStorage
    policy: AddressPolicy
    fetcher: Fetcher
    inputs: ImageInputs
    metrics: Metrics
    tools: ToolRegistry
    views: TaskViews
    handlers: dict[str, TaskHandler]
    callbacks: CallbackDispatcher
    leases: LeaseKeeper
    executor: InProcessExecutor
    submitter: TaskSubmitter
    catalog: ModelCatalog
    engine: DiffusionEngine
    waiters: TaskWaiters
    # Tell callbacks and long-polling queries that a task ended (cancels end tasks outside workers).
    on_finished: Callable[[str], None]

    def start(self) -> None:
        self.catalog.start()
        self.executor.start()
        self.callbacks.start()

    def stop(self) -> None:
        self.executor.stop()
        self.callbacks.stop()
        self.catalog.stop()
        self.fetcher.close()
        self.db.dispose()


def build_services(settings: Settings, extra_tools: Sequence[AnyTool] = ()) -> Services:
    """Everything, wired; `extra_tools` join the built-in ones (tests add tools of their own)."""
    db = open_database(settings)
    store = TaskStore(db, settings.task_prefix)
    keys = KeyStore(db)
    signer = UrlSigner(settings.url_signing_key, settings.url_expiry_seconds) if settings.url_signing_key else None
    storage = LocalStorage(settings.resolved_storage_dir, settings.resolved_public_base_url, signer)
    policy = AddressPolicy(settings.url_allowlist)
    fetcher = Fetcher(
        policy, FetchLimits(settings.max_input_bytes, settings.fetch_timeout_seconds, settings.max_redirects)
    )
    inputs = ImageInputs(
        fetcher, storage, InputLimits(settings.max_input_bytes, settings.max_input_pixels), owners=store.owner_of
    )
    metrics = Metrics()
    metrics.watch_queue(store.counts)
    catalog = ModelCatalog(settings.models_dir.resolve(), db, settings.catalog_rescan_seconds)
    engine = DiffusionEngine(catalog, settings)
    registry = builtin_tools(engine)
    for tool in extra_tools:
        registry.register(tool)
    views = TaskViews(store, storage, registry)
    callbacks = CallbackDispatcher(
        db,
        keys,
        fetcher,
        views.callback_envelope,
        settings.callback_delays,
        settings.callback_timeout_seconds,
        metrics,
    )
    leases = LeaseKeeper(store, settings.lease_seconds)
    handlers: dict[str, TaskHandler] = {
        "tool": ToolTaskHandler(registry),
        "sd": GenerationHandler(engine),
        "training": TrainingHandler(engine),
    }
    waiters = TaskWaiters()

    def on_finished(task_id: str) -> None:
        callbacks.wake()
        waiters.finished(task_id)

    runner = TaskRunner(store, handlers, settings, inputs, storage, leases, metrics, on_finished=on_finished)
    executor = InProcessExecutor(store, runner, leases, settings, on_finished=on_finished)
    submitter = TaskSubmitter(store, inputs, storage, executor, policy, settings, metrics)
    return Services(
        settings=settings,
        db=db,
        keys=keys,
        tasks=store,
        storage=storage,
        policy=policy,
        fetcher=fetcher,
        inputs=inputs,
        metrics=metrics,
        tools=registry,
        views=views,
        handlers=handlers,
        callbacks=callbacks,
        leases=leases,
        executor=executor,
        submitter=submitter,
        catalog=catalog,
        engine=engine,
        waiters=waiters,
        on_finished=on_finished,
    )
