"""Super resolution: bundled Real-ESRGAN (ncnn) and user-installed upscalers, tiled (see service.py)."""

from imgopen.vision.upscale.service import AUTO, LANCZOS, UpscalerInfo, Upscalers

__all__ = ["AUTO", "LANCZOS", "UpscalerInfo", "Upscalers"]
