"""codeformer: face restoration, with the whole image optionally enlarged 2 or 4 times."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from PIL import Image
from pydantic import Field

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.faces.analysis import FaceAnalyzer
from imgopen.tools.faces.inputs import check_sizes, load_rgb, no_face
from imgopen.tools.faces.restorer import FaceRestorer, RestoreModel


class CodeFormerParams(ToolParams):
    sourceImage: ImageInput
    fidelityWeight: float = Field(
        0.5, ge=0, le=1, description="0 restores the most, 1 keeps the most of the original face (0..1)."
    )
    upscale: Literal[1, 2, 4] = Field(
        1, description="Enlarge the whole image 1, 2 or 4 times (Real-ESRGAN for the background)."
    )
    model: RestoreModel = Field(
        "auto",
        description=(
            "'codeformer' or 'gfpgan' (their ONNX files must be installed), or 'auto': CodeFormer, else GFPGAN, "
            "else Real-ESRGAN x4plus on the aligned face crops."
        ),
    )
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp.")


class CodeFormerResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the restored image.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    faceCount: int = Field(ge=1, description="How many faces were restored.")
    width: int = Field(description="Output width in pixels (the input's times upscale).")
    height: int = Field(description="Output height in pixels.")


class CodeFormerTool(Tool[CodeFormerParams, CodeFormerResult]):
    code = "codeformer"
    summary = "Face restoration"
    description = (
        "Restores every face (cropped, aligned, restored, pasted back with a soft mask): CodeFormer (S-Lab, "
        "non-commercial) or GFPGAN (Apache-2.0) ONNX when installed, else Real-ESRGAN x4plus on the aligned "
        "face crop blended by fidelityWeight. upscale enlarges the whole image with Real-ESRGAN."
    )
    params_model = CodeFormerParams
    result_model = CodeFormerResult

    def __init__(self, analyzer: FaceAnalyzer, restorer: FaceRestorer) -> None:
        self._analyzer = analyzer
        self._restorer = restorer

    def precheck(self, params: CodeFormerParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        check_sizes(sizes)
        width, height = sizes["sourceImage"]
        pixels = width * height * params.upscale**2
        if pixels > settings.max_output_pixels:
            raise ImgOpenError(
                "400",
                f"upscale: the output would be {width * params.upscale}x{height * params.upscale}, over the limit "
                f"of {settings.max_output_pixels / 1e6:g} megapixels",
            )
        self._restorer.backend(params.model, settings.models_dir)  # "503" now if the named model is missing

    def run(self, params: CodeFormerParams, ctx: TaskContext) -> CodeFormerResult:
        rgb = load_rgb(ctx, params.sourceImage, "sourceImage")
        self.precheck(params, {"sourceImage": (rgb.shape[1], rgb.shape[0])}, ctx.settings)
        backend = self._restorer.backend(params.model, ctx.settings.models_dir)
        faces, _detector = self._analyzer.find(rgb, ctx.settings.models_dir)
        if not faces:
            raise no_face("sourceImage")
        ctx.progress(0.1)

        def progress(fraction: float) -> None:
            ctx.progress(0.1 + 0.8 * fraction)

        out, method = self._restorer.restore_faces(
            rgb, [face.five for face in faces], backend, params.fidelityWeight, params.upscale, progress
        )
        key = ctx.save_image(Image.fromarray(out), fmt=params.outputFormat)
        return CodeFormerResult(
            method=method,
            outputImageUrl=key,
            outputImageUrls=[key],
            faceCount=len(faces),
            width=out.shape[1],
            height=out.shape[0],
        )
