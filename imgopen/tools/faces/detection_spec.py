"""face/detection, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.faces.inputs import check_sizes


class FaceDetectionParams(ToolParams):
    imageUrl: ImageInput
    minScore: float = Field(
        0.5, ge=0.05, le=1.0, description="Faces scored below this (0.05..1) are left out. [beyond]"
    )
    outputFormat: OutputFormat = Field(
        "png", description="Encoding of the annotated image and the crops: png, jpeg (fastest) or webp. [beyond]"
    )


class BoundingBox(BaseModel):
    x: int = Field(ge=0, description="Left edge in pixels.")
    y: int = Field(ge=0, description="Top edge in pixels.")
    width: int = Field(ge=1, description="Width in pixels.")
    height: int = Field(ge=1, description="Height in pixels.")


class Landmark(BaseModel):
    name: str = Field(
        description="leftEye, rightEye, nose, mouthLeft or mouthRight; left and right as seen in the image."
    )
    x: float = Field(description="Horizontal position in pixels.")
    y: float = Field(description="Vertical position in pixels.")


class DetectedFace(BaseModel):
    faceIdx: int = Field(ge=1, description="1-based index, faces ordered left to right.")
    bbox: BoundingBox = Field(description="The face's box.")
    score: float = Field(ge=0, le=1, description="Detector confidence, 0..1.")
    landmarks: list[Landmark] = Field(description="Five points: eyes, nose tip, mouth corners.")
    cropUrl: FileKey = Field(description="URL of the face cropped with a margin of a quarter of its box.")


class FaceDetectionResult(ToolResult):
    faces: list[DetectedFace] = Field(description="The faces found, left to right.")
    faceCount: int = Field(ge=0, description="How many faces were found.")
    outputImageUrl: FileKey = Field(description="URL of the image with each face's box, index and landmarks drawn.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")


class FaceDetectionSpec(ToolSpec[FaceDetectionParams, FaceDetectionResult]):
    code = "face/detection"
    summary = "Face detection"
    description = (
        "Finds faces: boxes, scores, five landmarks and a crop per face, ordered left to right, and the image "
        "with the boxes drawn. MediaPipe BlazeFace (with Face Mesh for the landmarks) out of the box; SCRFD "
        "(insightface det_10g.onnx, non-commercial) when installed."
    )
    params_model = FaceDetectionParams
    result_model = FaceDetectionResult

    def precheck(self, params: FaceDetectionParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_sizes(sizes)
