"""Super resolution: bundled Real-ESRGAN (ncnn) and user-installed upscalers, tiled (service.py);
the names they answer to, without loading anything (names.py)."""
