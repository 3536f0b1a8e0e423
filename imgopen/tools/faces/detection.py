"""face/detection: every face's box, score, five landmarks and a crop, and the image with the
boxes drawn."""

from __future__ import annotations

from collections.abc import Mapping

from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, Field

from imgopen.config import Settings
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.faces.analysis import FaceAnalyzer, FoundFace
from imgopen.tools.faces.inputs import check_sizes, load_rgb
from imgopen.vision.face_align import POINT_NAMES

CROP_MARGIN = 0.25  # each crop shows this much (of the box's size) around the box


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


def annotate(image: Image.Image, faces: list[FoundFace]) -> Image.Image:
    """Boxes, 1-based indices and landmark dots, sized to the image."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    line = max(2, round(min(image.size) / 200))
    text_size = max(12, round(min(image.size) / 30))
    font = ImageFont.load_default(size=text_size)
    for index, face in enumerate(faces, start=1):
        x, y, w, h = face.box
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=(0, 255, 0), width=line)
        draw.text((x + line, max(0, y - text_size - line)), str(index), fill=(0, 255, 0), font=font)
        for px, py in face.five:
            radius = line
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=(255, 0, 0))
    return out


def crop_box(face: FoundFace, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = face.box
    dx, dy = round(w * CROP_MARGIN), round(h * CROP_MARGIN)
    return max(0, x - dx), max(0, y - dy), min(width, x + w + dx), min(height, y + h + dy)


class FaceDetectionTool(Tool[FaceDetectionParams, FaceDetectionResult]):
    code = "face/detection"
    summary = "Face detection"
    description = (
        "Finds faces: boxes, scores, five landmarks and a crop per face, ordered left to right, and the image "
        "with the boxes drawn. MediaPipe BlazeFace (with Face Mesh for the landmarks) out of the box; SCRFD "
        "(insightface det_10g.onnx, non-commercial) when installed."
    )
    params_model = FaceDetectionParams
    result_model = FaceDetectionResult

    def __init__(self, analyzer: FaceAnalyzer) -> None:
        self._analyzer = analyzer

    def precheck(self, params: FaceDetectionParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        check_sizes(sizes)

    def run(self, params: FaceDetectionParams, ctx: TaskContext) -> FaceDetectionResult:
        rgb = load_rgb(ctx, params.imageUrl, "imageUrl")
        faces, method = self._analyzer.find(rgb, ctx.settings.models_dir, params.minScore)
        ctx.progress(0.5)
        image = Image.fromarray(rgb)
        if not faces:
            ctx.warn("no face found in imageUrl")
        detected = []
        for index, face in enumerate(faces, start=1):
            crop = image.crop(crop_box(face, image.width, image.height))
            x, y, w, h = face.box
            detected.append(
                DetectedFace(
                    faceIdx=index,
                    bbox=BoundingBox(x=x, y=y, width=w, height=h),
                    score=round(min(1.0, max(0.0, face.score)), 4),
                    landmarks=[
                        Landmark(name=name, x=round(float(px), 1), y=round(float(py), 1))
                        for name, (px, py) in zip(POINT_NAMES, face.five, strict=True)
                    ],
                    cropUrl=ctx.save_image(crop, name=f"face-{index}", fmt=params.outputFormat),
                )
            )
        key = ctx.save_image(annotate(image, faces), name="faces", fmt=params.outputFormat)
        return FaceDetectionResult(
            method=method, faces=detected, faceCount=len(detected), outputImageUrl=key, outputImageUrls=[key]
        )
