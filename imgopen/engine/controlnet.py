"""ControlNet units: control images preprocessed and sized, strengths, guidance windows and the
three control modes.

Control modes, as sd-webui-controlnet defines them: 0 "balanced" is plain ControlNet; 1 "my
prompt is more important" scales the unit's residuals down towards the shallow layers (by
0.825 per layer, the deepest at full strength); 2 "ControlNet is more important" applies the
control on the conditional half of classifier-free guidance only (diffusers' guess mode, which
also scales the layers), and is pipeline-wide there: one unit in mode 2 sets it for all units.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from imgopen.engine.images import resize_to
from imgopen.engine.params import ControlNetParams
from imgopen.engine.resolve import Resolved
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.vision.preprocessors import AnnotatorModels, PreprocessSettings, canonical, preprocess

SOFT_INJECTION = 0.825


@dataclass
class ControlSetup:
    images: list[Image.Image] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    modes: list[int] = field(default_factory=list)

    def model_argument(self, controlnets: list[Any]) -> Any:
        return controlnets[0] if len(controlnets) == 1 else controlnets

    def call_arguments(self, kind: str) -> dict[str, Any]:
        single = len(self.images) == 1
        return {
            ("image" if kind == "text2image" else "control_image"): self.images[0] if single else self.images,
            "controlnet_conditioning_scale": self.scales[0] if single else self.scales,
            "control_guidance_start": self.starts[0] if single else self.starts,
            "control_guidance_end": self.ends[0] if single else self.ends,
            "guess_mode": 2 in self.modes,
        }

    @contextmanager
    def soft_injection(self, controlnets: list[Any]) -> Iterator[None]:
        """Mode 1 units: their residuals weighted 0.825 ** (layers from the deepest)."""
        handles = [
            model.register_forward_hook(_scale_residuals)
            for model, mode in zip(controlnets, self.modes, strict=True)
            if mode == 1
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


def _scale_residuals(_module: Any, _inputs: Any, output: Any) -> Any:
    down, mid = output[0], output[1]
    count = len(down) + 1
    scaled = [sample * SOFT_INJECTION ** (count - 1 - index) for index, sample in enumerate(down)]
    return (scaled, mid, *tuple(output[2:])) if isinstance(output, tuple) else type(output)(scaled, mid)


def prepare_controls(
    params: ControlNetParams,
    resolved: Resolved,
    ctx: TaskContext,
    size: tuple[int, int],
    init: Image.Image | None,
    models: AnnotatorModels | None = None,
) -> ControlSetup:
    setup = ControlSetup()
    for index, (unit, _entry) in enumerate(resolved.controlnets):
        what = f"controlnet.args[{index}].input_image"
        source = ctx.image(unit.input_image, what) if unit.input_image else init
        if source is None:
            raise ImgOpenError("400", f"{what}: required when there is no image_link")
        module = canonical(unit.module)
        if module is None:
            raise ImgOpenError("400", f"controlnet.args[{index}].module: unknown preprocessor {unit.module!r}")
        resolution = min(size) if unit.pixel_perfect else unit.processor_res
        settings = PreprocessSettings(
            resolution, unit.threshold_a, unit.threshold_b, models_dir=ctx.settings.models_dir, models=models
        )
        # As cnt/preview runs it: the same guard, models folder and networks.
        field = f"controlnet.args[{index}].processor_res"
        control = preprocess(module, source, settings, ctx.settings.max_output_pixels, field).image
        control = resize_to(control, size, unit.resize_mode)
        if unit.mask is not None:
            # Outside its mask a unit gives no control (a black map: no edges, no pose).
            mask = resize_to(ctx.image(unit.mask, f"controlnet.args[{index}].mask", mode="RGB"), size, 0).convert("L")
            keep = (np.asarray(mask) > 127)[..., None]
            control = Image.fromarray(np.where(keep, np.asarray(control.convert("RGB")), 0).astype(np.uint8))
        setup.images.append(control)
        setup.scales.append(unit.weight)
        setup.starts.append(unit.guidance_start)
        setup.ends.append(unit.guidance_end)
        setup.modes.append(unit.control_mode)
    return setup
