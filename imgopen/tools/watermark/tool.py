"""The watermark and watermark/decode tools."""

from __future__ import annotations

from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.watermark import invisible, visible
from imgopen.tools.watermark.tool_spec import (
    WatermarkDecodeParams,
    WatermarkDecodeResult,
    WatermarkDecodeSpec,
    WatermarkParams,
    WatermarkResult,
    WatermarkSpec,
)

__all__ = [
    "WatermarkDecodeParams",
    "WatermarkDecodeResult",
    "WatermarkDecodeTool",
    "WatermarkParams",
    "WatermarkResult",
    "WatermarkTool",
]


class WatermarkTool(WatermarkSpec, Tool[WatermarkParams, WatermarkResult]):
    def run(self, params: WatermarkParams, ctx: TaskContext) -> WatermarkResult:
        image = ctx.image(params.sourceImage, "sourceImage", mode=None)
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
        short = min(image.size)
        margin = params.margin if params.margin is not None else max(2, round(short * 0.02))
        methods: list[str] = []
        if params.watermarkImage:
            logo = ctx.image(params.watermarkImage, "watermarkImage", mode="RGBA")
            mark = visible.scale_mark(logo, image.width, params.imageScale)
            image = visible.apply(image, mark, params.position, params.opacity, margin)
            methods.append("visible-image")
        if params.text:
            size = params.fontSize or max(8, round(short * 0.05))
            mark = visible.render_text(params.text, size, visible.parse_color(params.fontColor))
            image = visible.apply(image, mark, params.position, params.opacity, margin)
            methods.append("visible-text")
        ctx.progress(0.5)
        if params.invisibleText:
            alpha = image.getchannel("A") if image.mode == "RGBA" else None
            image = invisible.embed(image, params.invisibleText)
            if alpha is not None:
                image.putalpha(alpha)
            methods.append(invisible.METHOD)
        key = ctx.save_image(image, fmt=params.outputFormat)
        return WatermarkResult(
            method="+".join(methods), outputImageUrl=key, outputImageUrls=[key], width=image.width, height=image.height
        )


class WatermarkDecodeTool(WatermarkDecodeSpec, Tool[WatermarkDecodeParams, WatermarkDecodeResult]):
    def run(self, params: WatermarkDecodeParams, ctx: TaskContext) -> WatermarkDecodeResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        text = invisible.extract(image)
        return WatermarkDecodeResult(method=invisible.METHOD, invisibleText=text, found=text is not None)
