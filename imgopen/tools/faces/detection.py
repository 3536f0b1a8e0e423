"""face/detection: every face's box, score, five landmarks and a crop, and the image with the
boxes drawn."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.faces.analysis import FaceAnalyzer, FoundFace
from imgopen.tools.faces.detection_spec import (
    BoundingBox,
    DetectedFace,
    FaceDetectionParams,
    FaceDetectionResult,
    FaceDetectionSpec,
    Landmark,
)
from imgopen.tools.faces.inputs import load_rgb
from imgopen.vision.face_align import POINT_NAMES

__all__ = [
    "BoundingBox",
    "DetectedFace",
    "FaceDetectionParams",
    "FaceDetectionResult",
    "FaceDetectionTool",
    "Landmark",
    "annotate",
    "crop_box",
]

CROP_MARGIN = 0.25  # each crop shows this much (of the box's size) around the box


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


class FaceDetectionTool(FaceDetectionSpec, Tool[FaceDetectionParams, FaceDetectionResult]):
    def __init__(self, analyzer: FaceAnalyzer) -> None:
        self._analyzer = analyzer

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
