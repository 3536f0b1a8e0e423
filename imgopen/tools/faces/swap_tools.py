"""roop, v2/roop and face/fusion: face swaps, one or two source faces onto a target's faces."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.faces.analysis import FaceAnalyzer, FoundFace
from imgopen.tools.faces.inputs import load_rgb, no_face, parse_fidelity
from imgopen.tools.faces.restore_backend import choose_backend
from imgopen.tools.faces.restorer import FaceRestorer
from imgopen.tools.faces.swap_tools_spec import (
    FaceFusionParams,
    FaceFusionSpec,
    RoopParams,
    RoopSpec,
    RoopV2Params,
    RoopV2Spec,
    SwapResult,
)
from imgopen.tools.faces.swapper import FaceSwapper, Source

__all__ = [
    "FaceFusionParams",
    "FaceFusionTool",
    "RoopParams",
    "RoopTool",
    "RoopV2Params",
    "RoopV2Tool",
    "SwapResult",
    "SwapRunner",
]

ByteArray = NDArray[np.uint8]
Pairs = list[tuple[int, int]]  # (target face index, source index), both 0-based
Pairing = Callable[[list[FoundFace], int], Pairs]  # (target faces, number of sources) -> pairs


class SwapRunner:
    """The steps every swap tool takes: find the faces, pair them, swap, optionally restore."""

    def __init__(self, analyzer: FaceAnalyzer, swapper: FaceSwapper, restorer: FaceRestorer) -> None:
        self.analyzer = analyzer
        self.swapper = swapper
        self.restorer = restorer

    def run(
        self,
        ctx: TaskContext,
        sources: list[tuple[str, str]],
        target_ref: str,
        pair: Pairing,
        fmt: OutputFormat,
        fidelity: float | None = None,
    ) -> SwapResult:
        """`sources`: (image reference, field name); `pair(target faces, source count)` gives the
        (target face, source) pairs. With `fidelity`, the swapped faces are then restored."""
        models_dir = ctx.settings.models_dir
        backend = self.swapper.backend(models_dir, ctx)
        target = load_rgb(ctx, target_ref, "targetUrl")
        faces, _detector = self.analyzer.find(target, models_dir)
        if not faces:
            raise no_face("targetUrl")
        ctx.progress(0.1)
        prepared: list[Source] = []
        for ref, field in sources:
            rgb = load_rgb(ctx, ref, field)
            found, _ = self.analyzer.find(rgb, models_dir)
            if not found:
                raise no_face(field)
            prepared.append(self.swapper.source(rgb, max(found, key=lambda f: f.area), field, backend))
        pairs: Pairs = pair(faces, len(prepared))
        used = {source for _face, source in pairs}
        for index in sorted(set(range(len(prepared))) - used):
            ctx.warn(f"{prepared[index].field}: not used (the target has {len(faces)} face(s))")
        ctx.progress(0.3)
        out = target
        for step, (face_index, source_index) in enumerate(pairs, start=1):
            out = self.swapper.swap(out, faces[face_index], prepared[source_index], backend, "targetUrl")
            ctx.progress(0.3 + 0.4 * step / len(pairs))
        method = self.swapper.method(backend)
        if fidelity is not None:
            restorer = choose_backend("auto", models_dir)
            swapped = [faces[face_index].five for face_index, _ in pairs]
            out, restored_by = self.restorer.restore_faces(out, swapped, restorer, fidelity)
            method += f"+{restored_by}"
        key = ctx.save_image(Image.fromarray(out), fmt=fmt)
        return SwapResult(method=method, outputImageUrl=key, outputImageUrls=[key], faceCount=len(pairs))


def largest_face(faces: list[FoundFace], _sources: int) -> Pairs:
    return [(max(range(len(faces)), key=lambda i: faces[i].area), 0)]


def fusion_pairs(face_idx: list[int] | None) -> Pairing:
    def pair(faces: list[FoundFace], sources: int) -> Pairs:
        if face_idx is None:
            if sources == 1:
                return [(index, 0) for index in range(len(faces))]
            return [(index, index) for index in range(min(sources, len(faces)))]
        for number in face_idx:
            if number > len(faces):
                raise ImgOpenError(
                    "400", f"faceIdx: {number} is out of range: targetUrl has {len(faces)} face(s), numbered from 1"
                )
        if sources == 1:
            return [(number - 1, 0) for number in face_idx]
        return [(number - 1, source) for source, number in enumerate(face_idx)]

    return pair


class _SwapTool:
    def __init__(self, runner: SwapRunner) -> None:
        self._runner = runner


class RoopTool(_SwapTool, RoopSpec, Tool[RoopParams, SwapResult]):
    def run(self, params: RoopParams, ctx: TaskContext) -> SwapResult:
        sources = [(params.sourceUrl, "sourceUrl")]
        return self._runner.run(ctx, sources, params.targetUrl, largest_face, params.outputFormat)


class RoopV2Tool(_SwapTool, RoopV2Spec, Tool[RoopV2Params, SwapResult]):
    def run(self, params: RoopV2Params, ctx: TaskContext) -> SwapResult:
        fidelity = parse_fidelity(params.fidelityWeight)
        sources = [(params.sourceUrl, "sourceUrl")]
        return self._runner.run(ctx, sources, params.targetUrl, largest_face, params.outputFormat, fidelity)


class FaceFusionTool(_SwapTool, FaceFusionSpec, Tool[FaceFusionParams, SwapResult]):
    def run(self, params: FaceFusionParams, ctx: TaskContext) -> SwapResult:
        sources = [(ref, f"sourceUrl[{index}]") for index, ref in enumerate(params.sourceUrl)]
        return self._runner.run(ctx, sources, params.targetUrl, fusion_pairs(params.faceIdx), params.outputFormat)
