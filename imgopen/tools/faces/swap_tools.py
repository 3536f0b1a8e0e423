"""roop, v2/roop and face/fusion: face swaps, one or two source faces onto a target's faces."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import Field, field_validator, model_validator

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.faces.analysis import FaceAnalyzer, FoundFace
from imgopen.tools.faces.inputs import check_sizes, load_rgb, no_face, parse_fidelity
from imgopen.tools.faces.restorer import FaceRestorer
from imgopen.tools.faces.swapper import FaceSwapper, Source

ByteArray = NDArray[np.uint8]
MAX_FACE_INDEX = 50
Pairs = list[tuple[int, int]]  # (target face index, source index), both 0-based
Pairing = Callable[[list[FoundFace], int], Pairs]  # (target faces, number of sources) -> pairs


class RoopParams(ToolParams):
    sourceUrl: ImageInput = Field(description="The image that gives the face (its largest face is used).")
    targetUrl: ImageInput = Field(description="The image that receives it (on its largest face).")
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp. [beyond]")


class RoopV2Params(RoopParams):
    fidelityWeight: str = Field(
        "0.5",
        max_length=32,
        description=(
            "Face restoration after the swap, as a string from '0' to '1': 0 restores the most, 1 keeps the most "
            "of the swapped face."
        ),
    )

    @field_validator("fidelityWeight", mode="before")
    @classmethod
    def _fidelity(cls, value: Any) -> str:
        parse_fidelity(value)
        return str(value).strip()


class FaceFusionParams(ToolParams):
    sourceUrl: list[ImageInput] = Field(
        min_length=1,
        max_length=2,
        description="One or two images that give the faces (the largest face of each); a single URL is taken too.",
    )
    targetUrl: ImageInput = Field(description="The image whose faces are replaced.")
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp. [beyond]")
    faceIdx: list[int] | None = Field(
        None,
        min_length=1,
        max_length=MAX_FACE_INDEX,
        description=(
            "Which target faces to replace: 1-based, faces ordered left to right (a number, a list, or '1,2'). "
            "With one source, every listed face gets it; with two, faceIdx[0] gets the first source and "
            "faceIdx[1] the second. Absent: one source goes onto every face, two go onto faces 1 and 2."
        ),
    )

    @field_validator("sourceUrl", mode="before")
    @classmethod
    def _one_or_two(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("faceIdx", mode="before")
    @classmethod
    def _indices(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
            if not parts or not all(part.isdigit() for part in parts):
                raise ValueError(f"{value!r} is not a list of face numbers such as '1' or '1,2'")
            return [int(part) for part in parts]
        return [value] if isinstance(value, int) else value

    @model_validator(mode="after")
    def _matching(self) -> FaceFusionParams:
        if self.faceIdx is None:
            return self
        if any(not 1 <= index <= MAX_FACE_INDEX for index in self.faceIdx):
            raise ValueError(f"faceIdx: face numbers start at 1 (left) and go up to {MAX_FACE_INDEX}")
        if len(set(self.faceIdx)) != len(self.faceIdx):
            raise ValueError("faceIdx: a face is listed twice")
        if len(self.sourceUrl) == 2 and len(self.faceIdx) != 2:
            raise ValueError("faceIdx: with two sourceUrl images give two face numbers (one per source), or none")
        return self


class SwapResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the image with the face(s) swapped.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    faceCount: int = Field(ge=1, description="How many faces of the target were replaced. [beyond]")


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
            restorer = self.restorer.backend("auto", models_dir)
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

    def precheck(self, params: Any, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        check_sizes(sizes)


class RoopTool(_SwapTool, Tool[RoopParams, SwapResult]):
    code = "roop"
    summary = "Face swap"
    description = (
        "Puts the face of sourceUrl onto the largest face of targetUrl. inswapper_128 (with an ArcFace "
        "recogniser; insightface, non-commercial) when installed, else a classical swap from MediaPipe Face "
        "Mesh landmarks: triangle warp, colour matching, Poisson blending, the target's eyes and mouth kept."
    )
    params_model = RoopParams
    result_model = SwapResult

    def run(self, params: RoopParams, ctx: TaskContext) -> SwapResult:
        sources = [(params.sourceUrl, "sourceUrl")]
        return self._runner.run(ctx, sources, params.targetUrl, largest_face, params.outputFormat)


class RoopV2Tool(_SwapTool, Tool[RoopV2Params, SwapResult]):
    code = "v2/roop"
    summary = "Face swap with restoration"
    description = (
        "roop, then the swapped face restored (CodeFormer or GFPGAN when installed, else Real-ESRGAN on the "
        "aligned face) with fidelityWeight."
    )
    params_model = RoopV2Params
    result_model = SwapResult

    def run(self, params: RoopV2Params, ctx: TaskContext) -> SwapResult:
        fidelity = parse_fidelity(params.fidelityWeight)
        sources = [(params.sourceUrl, "sourceUrl")]
        return self._runner.run(ctx, sources, params.targetUrl, largest_face, params.outputFormat, fidelity)


class FaceFusionTool(_SwapTool, Tool[FaceFusionParams, SwapResult]):
    code = "face/fusion"
    summary = "Multiple face swap"
    description = (
        "Puts one or two source faces onto the target's faces chosen by faceIdx (1-based, left to right), with "
        "the same backends as roop."
    )
    params_model = FaceFusionParams
    result_model = SwapResult

    def run(self, params: FaceFusionParams, ctx: TaskContext) -> SwapResult:
        sources = [(ref, f"sourceUrl[{index}]") for index, ref in enumerate(params.sourceUrl)]
        return self._runner.run(ctx, sources, params.targetUrl, fusion_pairs(params.faceIdx), params.outputFormat)
