"""codeformer: face restoration, with the whole image optionally enlarged 2 or 4 times."""

from __future__ import annotations

from PIL import Image

from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.faces.analysis import FaceAnalyzer
from imgopen.tools.faces.codeformer_spec import CodeFormerParams, CodeFormerResult, CodeFormerSpec, check_output_size
from imgopen.tools.faces.inputs import load_rgb, no_face
from imgopen.tools.faces.restore_backend import choose_backend
from imgopen.tools.faces.restorer import FaceRestorer

__all__ = ["CodeFormerParams", "CodeFormerResult", "CodeFormerTool"]


class CodeFormerTool(CodeFormerSpec, Tool[CodeFormerParams, CodeFormerResult]):
    def __init__(self, analyzer: FaceAnalyzer, restorer: FaceRestorer) -> None:
        self._analyzer = analyzer
        self._restorer = restorer

    def run(self, params: CodeFormerParams, ctx: TaskContext) -> CodeFormerResult:
        rgb = load_rgb(ctx, params.sourceImage, "sourceImage")
        check_output_size(params, (rgb.shape[1], rgb.shape[0]), ctx.settings)  # load_rgb checked the face size
        backend = choose_backend(params.model, ctx.settings.models_dir)
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
