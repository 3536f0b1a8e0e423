"""`imgopen serve`: the API and the workers in one process (SQLite, local files, worker threads),
composed from the same roles the cluster runs apart (imgopen/roles/)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imgopen.config import Settings
from imgopen.roles.api import ApiServices, assemble_api
from imgopen.roles.core import build_core
from imgopen.roles.worker import WorkerParts, build_worker_parts
from imgopen.tasks.executor import Executor
from imgopen.tasks.inprocess import InProcessExecutor
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.registry import AnyTool

log = logging.getLogger(__name__)


@dataclass
class Services(ApiServices, WorkerParts):
    """Everything of one process: the API's services and a worker's parts."""


def build_services(settings: Settings, extra_tools: Sequence[AnyTool] = ()) -> Services:
    """Everything, wired; `extra_tools` join the built-in ones (tests add tools of their own)."""
    core = build_core(settings)
    finished: list[Callable[[str], None]] = []

    def on_finished(task_id: str) -> None:  # the API's, known once it is assembled
        for notify in finished:
            notify(task_id)

    parts = build_worker_parts(core, extra_tools, on_finished)

    def executor_for(api_on_finished: Callable[[str], None]) -> Executor:
        finished.append(api_on_finished)
        return InProcessExecutor(
            core.tasks,
            parts.runner,
            parts.leases,
            settings,
            on_finished=api_on_finished,
            unload=parts.engine.unload,
            warm_up=parts.engine.warm_up_in_background,
        )

    checks = SubmitChecks(settings, core.catalog, on_cuda=parts.engine.placement.is_cuda)
    api = assemble_api(core, parts.runnable, checks, executor_for)
    return Services(**{name: getattr(api, name) for name in api.__dataclass_fields__}, **vars(parts))
