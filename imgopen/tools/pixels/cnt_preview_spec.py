"""cnt/preview, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from imgopen.config import Settings
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.vision.control import names
from imgopen.vision.control.settings import check_map_size
from imgopen.vision.control.weights import require_weights

# "none" would hand the image back unchanged: not a preview of anything.
NAMES = tuple(name for name in names.NAMES if name != "none")


class CntPreviewParams(ToolParams):
    sourceImage: ImageInput
    preprocessor: str = Field(
        min_length=1,
        max_length=100,
        description=f"One of: {', '.join(NAMES)} (sd-webui-controlnet's module names are accepted too).",
        examples=list(NAMES),
    )
    processorRes: int = Field(512, ge=64, le=2048, description="The map's shorter side, in pixels.")
    thresholdA: float | None = Field(
        None,
        ge=0,
        le=4294967295,
        description=(
            "The preprocessor's first setting: canny low threshold (100), binary level (0 = Otsu), lineart and "
            "scribble line strength (0.15, 0.2), scribble_xdog threshold (32), mlsd shortest line (0.1), "
            "mediapipe_face face count (1), tile down-sampling rate (1), shuffle seed (0), normal background "
            "depth (0.4)."
        ),
    )
    thresholdB: float | None = Field(
        None,
        ge=0,
        le=4294967295,
        description="The preprocessor's second setting: canny high threshold (200), mlsd merge distance (0.1).",
    )

    @field_validator("preprocessor")
    @classmethod
    def _known(cls, value: str) -> str:
        name = names.canonical(value)
        if name is None or name == "none":
            raise ValueError(f"unknown preprocessor {value!r}; valid: {', '.join(NAMES)}")
        return name


class CntPreviewResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the control map.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    poseKeypoints: dict[str, Any] | None = Field(
        description=(
            "For the openpose preprocessors: OpenPose JSON, {people: [{pose_keypoints_2d: 18 x [x, y, confidence], "
            "face_keypoints_2d, hand_left_keypoints_2d, hand_right_keypoints_2d}], canvas_width, canvas_height}, "
            "in pixels of the map; null for the others."
        )
    )
    width: int = Field(description="Map width in pixels.")
    height: int = Field(description="Map height in pixels.")


def check_request(params: CntPreviewParams, size: tuple[int, int], settings: Settings) -> None:
    """The map within the pixel limit, and the depth network installed for depth and normal (the
    same checks as the SD controlnet endpoint's units)."""
    check_map_size(size, params.processorRes, settings.max_output_pixels, "processorRes")
    require_weights(params.preprocessor, settings.models_dir)


class CntPreviewSpec(ToolSpec[CntPreviewParams, CntPreviewResult]):
    code = "cnt/preview"
    summary = "ControlNet preprocessor preview"
    description = (
        f"Shows the control map a ControlNet preprocessor makes of an image. Preprocessors: {', '.join(NAMES)}; "
        "depth and normal need a depth network in models/annotators."
    )
    params_model = CntPreviewParams
    result_model = CntPreviewResult

    def precheck(self, params: CntPreviewParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_request(params, sizes["sourceImage"], checks.settings)
