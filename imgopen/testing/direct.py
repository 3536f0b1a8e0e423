"""A TaskContext without a server: for calling a tool's run() directly (tests, benchmarks); and the
SubmitChecks a tool's precheck() takes, likewise."""

from __future__ import annotations

from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import open_database
from imgopen.media.address_policy import AddressPolicy
from imgopen.media.fetch import Fetcher, FetchLimits
from imgopen.media.inputs import ImageInputs, InputLimits
from imgopen.storage.local import LocalStorage
from imgopen.tasks.context import TaskContext
from imgopen.tools.checks import SubmitChecks


def direct_context(settings: Settings, task_id: str = "direct") -> TaskContext:
    storage = LocalStorage(settings.resolved_storage_dir, settings.resolved_public_base_url)
    fetcher = Fetcher(
        AddressPolicy(settings.url_allowlist),
        FetchLimits(settings.max_input_bytes, settings.fetch_timeout_seconds, settings.max_redirects),
    )
    inputs = ImageInputs(fetcher, storage, InputLimits(settings.max_input_bytes, settings.max_input_pixels))
    return TaskContext(task_id, "direct", settings, inputs, storage)


def direct_checks(settings: Settings) -> SubmitChecks:
    # Rescanned on every read (0 s): a test that adds a model file sees it at once.
    return SubmitChecks(settings, ModelCatalog(settings.models_dir.resolve(), open_database(settings), 0))
