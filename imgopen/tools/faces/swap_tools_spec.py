"""roop, v2/roop and face/fusion, the light half: params, result and the submit-time checks (see
tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.faces.inputs import check_sizes, parse_fidelity

MAX_FACE_INDEX = 50


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


class _FacesChecked:
    """The swap tools' submit-time check: every image big enough to hold a face."""

    def precheck(self, params: Any, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_sizes(sizes)


class RoopSpec(_FacesChecked, ToolSpec[RoopParams, SwapResult]):
    code = "roop"
    summary = "Face swap"
    description = (
        "Puts the face of sourceUrl onto the largest face of targetUrl. inswapper_128 (with an ArcFace "
        "recogniser; insightface, non-commercial) when installed, else a classical swap from MediaPipe Face "
        "Mesh landmarks: triangle warp, colour matching, Poisson blending, the target's eyes and mouth kept."
    )
    params_model = RoopParams
    result_model = SwapResult


class RoopV2Spec(_FacesChecked, ToolSpec[RoopV2Params, SwapResult]):
    code = "v2/roop"
    summary = "Face swap with restoration"
    description = (
        "roop, then the swapped face restored (CodeFormer or GFPGAN when installed, else Real-ESRGAN on the "
        "aligned face) with fidelityWeight."
    )
    params_model = RoopV2Params
    result_model = SwapResult


class FaceFusionSpec(_FacesChecked, ToolSpec[FaceFusionParams, SwapResult]):
    code = "face/fusion"
    summary = "Multiple face swap"
    description = (
        "Puts one or two source faces onto the target's faces chosen by faceIdx (1-based, left to right), with "
        "the same backends as roop."
    )
    params_model = FaceFusionParams
    result_model = SwapResult
