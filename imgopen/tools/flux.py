"""comfyui/text2image: Flux text-to-image, `comfyTaskType` mapped to an installed FLUX.1 model.

It runs as an `sd/v2/text2image` request for that model does (one generation path: the engine's,
with Flux's distilled guidance, progress, previews and the A1111 parameters in the file)."""

from __future__ import annotations

import secrets

from imgopen.engine.params import Text2ImageParams
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.flux_spec import DEFAULT_STEPS, TASK_TYPES, FluxParams, FluxResult, FluxSpec, flux_model

__all__ = ["FluxParams", "FluxResult", "FluxTool"]


class FluxTool(FluxSpec, Tool[FluxParams, FluxResult]):
    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine

    def run(self, params: FluxParams, ctx: TaskContext) -> FluxResult:
        entry = flux_model(params.comfyTaskType, self._engine.catalog, self._engine.settings)
        seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        request = Text2ImageParams(
            prompt=params.prompt,
            batch_size=1,
            steps=params.steps or DEFAULT_STEPS[TASK_TYPES[params.comfyTaskType]],
            seed=seed,
            width=params.width - params.width % 16,
            height=params.height - params.height % 16,
            cfg_scale=1.0,
            distilled_cfg_scale=params.fluxGuidance,
            sd_model_checkpoint=entry.name,
        )
        result = self._engine.generate(request, ctx)
        key = result.images[0].image
        return FluxResult(method=result.method, outputImageUrl=key, outputImageUrls=[key], seed=seed, model=entry.name)
