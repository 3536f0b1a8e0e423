"""removeBg: cut the subject out as a transparent PNG, a mask, or over a colour.

People out of the box (MediaPipe selfie segmentation, its edges aligned with the photograph's by a
guided filter); any object with an installed matting network (U²-Net, ISNet, BiRefNet in
models/rembg/)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.tools.people.colors import parse_css_color
from imgopen.tools.people.matting_models import missing_message
from imgopen.tools.people.person_check import PersonCheck
from imgopen.tools.people.remove_bg_spec import RemoveBgParams, RemoveBgResult, RemoveBgSpec, choose_model
from imgopen.vision.matting import drop_specks, estimate_foreground, refine_alpha
from imgopen.vision.saliency import run_saliency
from imgopen.vision.segmentation import PersonSegmenter

__all__ = ["PERSON_METHOD", "RemoveBgParams", "RemoveBgResult", "RemoveBgTool", "composite"]

PERSON_METHOD = "mediapipe-selfie-segmentation+guided-filter"
# The border margin for the selfie model (see PersonSegmenter.probability).
SEGMENTATION_MARGIN = 1 / 16


class RemoveBgTool(RemoveBgSpec, Tool[RemoveBgParams, RemoveBgResult]):
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)
        self._segmenter = PersonSegmenter(self._cache)
        self._person_check = PersonCheck(self._cache)
        # One helper thread: the segmenter runs while the person check does (MediaPipe and PNG
        # encoding release the GIL), and the mask is stored while the cut-out is composed.
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="removeBg")

    def run(self, params: RemoveBgParams, ctx: TaskContext) -> RemoveBgResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        rgb = np.asarray(image)
        chosen = choose_model(params.model, ctx.settings.models_dir)
        if chosen is None:
            alpha, method = self.person_alpha(image, rgb, ctx.settings.models_dir), PERSON_METHOD
        else:
            model, path = chosen
            alpha, method = run_saliency(onnx_session(self._cache, path), model.net, image), f"onnx:{model.net.name}"
        if float(alpha.max()) < 0.5:
            raise ImgOpenError("422", "sourceImage: no subject found to cut out (the whole image reads as background)")
        ctx.progress(0.6)
        # alpha is 0..1, so + 0.5 and truncation round it (faster than np.round at full size).
        mask = Image.fromarray((alpha * 255 + 0.5).astype(np.uint8), "L")
        stored_mask = self._helper.submit(ctx.save_image, mask, "mask")
        if params.outputMode == "mask":
            mask_key = stored_mask.result()
            return RemoveBgResult(method=method, outputImageUrl=mask_key, outputImageUrls=[mask_key], maskUrl=mask_key)
        # Edge pixels recoloured without the old background in them, for either kind of output.
        foreground = estimate_foreground(rgb, alpha)
        if params.outputMode == "transparent":
            levels = np.asarray(mask)
            # Hidden colour under full transparency means nothing; black there halves the PNG's
            # encoding time and shrinks the file by a third (measured on the astronaut).
            foreground[levels == 0] = 0
            output = Image.fromarray(foreground, "RGB")
            output.putalpha(mask)
        else:
            # By the stored mask's own levels, so the mask and the composite agree pixel for pixel.
            levels = np.asarray(mask, np.float32) * np.float32(1 / 255)
            output = Image.fromarray(composite(foreground, levels, parse_css_color(params.backgroundColor)), "RGB")
        key = ctx.save_image(output, name="cutout")
        return RemoveBgResult(method=method, outputImageUrl=key, outputImageUrls=[key], maskUrl=stored_mask.result())

    def person_alpha(self, image: Image.Image, rgb: NDArray[np.uint8], models_dir: Path) -> NDArray[np.float32]:
        segmented = self._helper.submit(self._segmenter.probability, image, False, SEGMENTATION_MARGIN)
        # The selfie model also "finds" people in cups and cats; a face or a body pose must confirm one.
        found = self._person_check.has_person(image)
        probability = segmented.result()
        if not found:
            raise ImgOpenError(
                "422", f"sourceImage: no person found; to cut out other objects, {missing_message(models_dir)}"
            )
        return drop_specks(refine_alpha(rgb, probability))


def composite(
    foreground: NDArray[np.uint8], alpha: NDArray[np.float32], color: tuple[int, int, int]
) -> NDArray[np.uint8]:
    """foreground over a flat colour, by alpha."""
    a = alpha[..., None]
    background = np.asarray(color, np.float32)
    blended = foreground.astype(np.float32) * a + background * (1.0 - a)
    return np.asarray(np.clip(np.round(blended), 0, 255), np.uint8)
