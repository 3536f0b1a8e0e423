"""A worker's services: the diffusion engine, the tools with their implementations, the handlers
of each task kind, and the runner that takes a claimed task to its end. Never imports FastAPI."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imgopen.config import Settings
from imgopen.engine.handler import GenerationHandler
from imgopen.engine.service import DiffusionEngine, model_cache
from imgopen.roles.core import Core, build_core
from imgopen.tasks.handlers import TaskHandler
from imgopen.tasks.kinds import SD, TOOL, TRAINING
from imgopen.tasks.leases import LeaseKeeper
from imgopen.tasks.runner import TaskRunner
from imgopen.tools import faces
from imgopen.tools.builtin import builtin_tools
from imgopen.tools.handler import ToolTaskHandler
from imgopen.tools.registry import AnyTool, ToolRegistry
from imgopen.training.handler import TrainingHandler


@dataclass
class WorkerParts:
    engine: DiffusionEngine
    runnable: ToolRegistry[AnyTool]
    handlers: dict[str, TaskHandler]
    leases: LeaseKeeper
    runner: TaskRunner


def build_worker_parts(
    core: Core, extra_tools: Sequence[AnyTool] = (), on_finished: Callable[[str], None] = lambda _task_id: None
) -> WorkerParts:
    settings = core.settings
    # One owner of every model the worker loads, within IMGOPEN_MODEL_CACHE_GB: unloadModels frees them all.
    cache = model_cache(settings)
    face_kit = faces.kit(settings, cache)
    engine = DiffusionEngine(core.catalog, settings, face_restorer=face_kit.restorer.restore, cache=cache)
    registry = builtin_tools(engine, face_kit)
    for tool in extra_tools:
        registry.register(tool)
    handlers: dict[str, TaskHandler] = {
        TOOL.name: ToolTaskHandler(registry),
        SD.name: GenerationHandler(engine),
        TRAINING.name: TrainingHandler(engine),
    }
    leases = LeaseKeeper(core.tasks, settings.lease_seconds)
    runner = TaskRunner(
        core.tasks, handlers, settings, core.inputs, core.storage, leases, core.metrics, on_finished=on_finished
    )
    return WorkerParts(engine=engine, runnable=registry, handlers=handlers, leases=leases, runner=runner)


@dataclass
class WorkerServices(Core, WorkerParts):
    """`imgopen worker`: the core and the worker's parts."""


def build_worker(settings: Settings, extra_tools: Sequence[AnyTool] = ()) -> WorkerServices:
    core = build_core(settings)
    parts = build_worker_parts(core, extra_tools)
    return WorkerServices(**core.shared(), **vars(parts))
