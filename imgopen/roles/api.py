"""The API's services: submit, query, cancel, callbacks; tasks reach workers through an executor.
`imgopen api` builds them with the Celery executor and imports no model library."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imgopen.accounts.quotas import Quotas
from imgopen.config import Settings
from imgopen.roles.core import Core, build_core
from imgopen.tasks.callbacks import CallbackDispatcher
from imgopen.tasks.executor import Executor
from imgopen.tasks.orphans import GRACE_SECONDS, OrphanSweeper
from imgopen.tasks.retention import RetentionSweeper
from imgopen.tasks.submit import TaskSubmitter
from imgopen.tasks.waiters import TaskWaiters
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.registry import AnySpec, ToolLookup
from imgopen.views import TaskViews

# Builds the executor once the API's own callback for finished tasks exists.
ExecutorFactory = Callable[[Callable[[str], None]], Executor]


@dataclass
class ApiServices(Core):
    tools: ToolLookup[AnySpec]
    views: TaskViews
    checks: SubmitChecks
    submitter: TaskSubmitter
    executor: Executor
    waiters: TaskWaiters
    callbacks: CallbackDispatcher
    retention: RetentionSweeper
    orphans: OrphanSweeper
    # Tell callbacks and long-polling queries that a task ended (cancels end tasks outside workers).
    on_finished: Callable[[str], None]

    def start(self) -> None:
        self.catalog.start()
        self.executor.start()
        self.callbacks.start()
        self.retention.start()
        self.orphans.start()

    def stop(self) -> None:
        self.orphans.stop()
        self.retention.stop()
        self.executor.stop()
        self.submitter.close()
        self.callbacks.stop()
        self.catalog.stop()
        self.fetcher.close()
        self.db.dispose()


def assemble_api(
    core: Core, tools: ToolLookup[AnySpec], checks: SubmitChecks, executor_for: ExecutorFactory
) -> ApiServices:
    settings = core.settings
    views = TaskViews(core.tasks, core.storage, tools)
    callbacks = CallbackDispatcher(
        core.db,
        core.keys,
        core.fetcher,
        views.callback_envelope,
        settings.callback_delays,
        settings.callback_timeout_seconds,
        core.metrics,
    )
    waiters = TaskWaiters()

    def on_finished(task_id: str) -> None:
        waiters.finished(task_id)  # first: a long-polling client is waiting for this
        callbacks.finished(task_id)

    executor = executor_for(on_finished)
    core.metrics.watch_queue(core.tasks.pool_stats, executor.workers_alive)
    core.metrics.watch_storage(Quotas(core.db).stored_bytes)
    submitter = TaskSubmitter(
        core.tasks, core.inputs, core.storage, executor, core.policy, settings, core.metrics, callbacks.expect
    )
    return ApiServices(
        **core.shared(),
        tools=tools,
        views=views,
        checks=checks,
        submitter=submitter,
        executor=executor,
        waiters=waiters,
        callbacks=callbacks,
        retention=RetentionSweeper(core.db, core.storage, settings.retention_days, settings.retention_check_seconds),
        orphans=OrphanSweeper(
            core.db,
            core.storage,
            settings.orphan_check_seconds,
            grace_seconds=max(GRACE_SECONDS, 2 * settings.lease_seconds),
            enabled=settings.orphan_sweep == "on" or (settings.orphan_sweep == "auto" and settings.storage == "local"),
        ),
        on_finished=on_finished,
    )


def build_api(settings: Settings, extra_specs: Sequence[AnySpec] = ()) -> ApiServices:
    """The API role: HTTP only, tasks run by `imgopen worker` processes (Celery)."""
    from imgopen.cluster.dispatcher import CeleryExecutor
    from imgopen.tools.specs import builtin_specs

    if settings.executor != "celery":
        raise ValueError(
            "`imgopen api` runs no workers of its own: set IMGOPEN_EXECUTOR=celery and start `imgopen worker` "
            "processes, or run everything in one process with `imgopen serve`"
        )
    core = build_core(settings)
    specs = builtin_specs()
    for spec in extra_specs:
        specs.register(spec)

    def executor_for(on_finished: Callable[[str], None]) -> Executor:
        return CeleryExecutor(core.tasks, core.workers, settings, on_finished)

    return assemble_api(core, specs, SubmitChecks(settings, core.catalog), executor_for)
