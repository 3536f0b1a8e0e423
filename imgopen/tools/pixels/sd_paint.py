"""SD inpainting for erase and imgExpand, through the engine (engine/inpaint.py), at a working size
that fits the region: a region smaller than the checkpoint's native size is painted at its own size
(at least 256 px, below which SD composes poorly), because the result is scaled back to the region
anyway and every extra pixel costs time on a CPU."""

from __future__ import annotations

import math

from imgopen.engine.inpaint import WORK_SIDE, InpaintJob, InpaintOutcome
from imgopen.engine.resolve import default_checkpoint
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import TaskContext
from imgopen.tools.pixels.sd_checkpoint import no_checkpoint

MIN_SIDE = 256


def require_engine(engine: DiffusionEngine | None) -> DiffusionEngine:
    """The engine, or "503" when no SD checkpoint is installed (the tool's `model: "sd"`)."""
    if engine is None or not engine.has_checkpoint():
        raise no_checkpoint(engine.catalog.models_dir / "checkpoints" if engine else "models/checkpoints")
    return engine


def work_side(engine: DiffusionEngine, region: tuple[int, int]) -> int:
    checkpoint = default_checkpoint(engine.catalog, engine.settings.default_checkpoint)
    native = WORK_SIDE.get(checkpoint.base_model, 512)
    own = math.ceil(math.sqrt(region[0] * region[1]) / 64) * 64
    return min(native, max(MIN_SIDE, own))


def paint(engine: DiffusionEngine, job: InpaintJob, region: tuple[int, int], ctx: TaskContext) -> InpaintOutcome:
    """`job` run with the working side chosen for a region of `region` (w, h) pixels."""
    job.work_side = work_side(engine, region)
    return engine.inpaint(job, ctx)


def method(outcome: InpaintOutcome) -> str:
    return f"sd-inpaint:{outcome.checkpoint.name}"
