"""LaMa (Suvorov et al. 2021, "resolution-robust large mask inpainting with Fourier convolutions"),
when installed: an ONNX export or IOPaint's TorchScript big-lama.pt in models/inpaint/.

Both take the image as (1, 3, H, W) RGB floats in [0, 1] and the mask as (1, 1, H, W) with 1 for
the hole; exports differ in whether they answer in [0, 1] or [0, 255] (both are handled: the scale
is read from how the known pixels come back) and in whether their size is fixed (512 x 512 is
usual) or free (multiples of 8). LaMa works on a crop around the hole with as much context again,
at most SIDE pixels on its longer side; only the hole's pixels are replaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, file_key, own_cache
from imgopen.engine.images import masked_region
from imgopen.errors import ImgOpenError
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.tools.pixels.masks import bounding_box

SIDE = 512
MULTIPLE = 8

# (image (1,3,h,w), mask (1,1,h,w)) float32 -> (1,3,h,w) float32; and the fixed (w, h) it needs, if any.
Runner = tuple[Any, tuple[int, int] | None]


class Lama:
    """Loaded networks are kept in the model cache (by path and modification time)."""

    def __init__(self, cache: ModelCache | None = None, threads: int = 0) -> None:
        self._cache = own_cache(cache)
        self._threads = threads

    def method(self, path: Path) -> str:
        return f"lama:{path.name}"

    def _runner(self, path: Path) -> Runner:
        try:
            if path.suffix.lower() == ".onnx":
                return _onnx_runner(onnx_session(self._cache, path, self._threads))
            return self._torchscript(path), None
        except ImgOpenError:
            raise
        except Exception as exc:  # a corrupt or foreign file: onnxruntime and torch raise their own types
            raise ImgOpenError("503", f"{path}: cannot be loaded as LaMa ({exc}); replace the file") from exc

    def _torchscript(self, path: Path) -> Any:
        import torch

        def load() -> Any:
            jit_load: Any = torch.jit.load  # untyped in torch's stubs
            return jit_load(str(path), map_location="cpu").eval()

        torch_model = self._cache.get(file_key("lama", path), load).value  # a script module: its tensors are counted

        def run(image: NDArray[np.float32], mask: NDArray[np.float32]) -> NDArray[np.float32]:
            with torch.inference_mode():
                out = torch_model(torch.from_numpy(image), torch.from_numpy(mask))
            return np.asarray(out.float().numpy(), np.float32)

        return run

    def paint(self, path: Path, rgb: NDArray[np.uint8], mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
        run, fixed = self._runner(path)
        left, top, right, bottom = bounding_box(mask)
        padding = max(32, right - left, bottom - top)  # as much context again as the hole's size
        mask_image = Image.fromarray(mask.astype(np.uint8) * 255)
        if fixed is None:
            probe = masked_region(mask_image, padding, (1, 1))
            assert probe is not None  # the mask is not empty
            scale = min(1.0, SIDE / max(probe.size))
            fixed_or_free = (max(MULTIPLE, round(probe.size[0] * scale)), max(MULTIPLE, round(probe.size[1] * scale)))
        else:
            fixed_or_free = fixed
        region = masked_region(mask_image, padding, fixed_or_free)
        assert region is not None
        left, top, right, bottom = region.box
        crop, hole = rgb[top:bottom, left:right], mask[top:bottom, left:right]
        height, width = hole.shape
        work_w, work_h = fixed_or_free
        image = cv2.resize(crop, (work_w, work_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        # A pixel partly in the hole at the working size is in it: nothing of the object may leak.
        work_hole = cv2.resize(hole.astype(np.float32), (work_w, work_h), interpolation=cv2.INTER_LINEAR) > 0
        pad_h, pad_w = (-work_h % MULTIPLE, -work_w % MULTIPLE) if fixed is None else (0, 0)
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        work_hole = np.pad(work_hole, ((0, pad_h), (0, pad_w)))
        # The hole is blanked before LaMa sees it, as in its training (some exports do it themselves).
        image[work_hole] = 0
        out = run(image.transpose(2, 0, 1)[None].copy(), work_hole[None, None].astype(np.float32))
        painted = np.asarray(out, np.float32)[0].transpose(1, 2, 0)[:work_h, :work_w]
        given = np.asarray(image[:work_h, :work_w], np.float32)
        painted = painted / _output_scale(painted, given, ~work_hole[:work_h, :work_w])
        back = cv2.resize(np.clip(painted, 0, 1), (width, height), interpolation=cv2.INTER_CUBIC)
        result = rgb.copy()
        window = result[top:bottom, left:right]
        window[hole] = (np.clip(back[hole], 0, 1) * 255 + 0.5).astype(np.uint8)
        return result


def _onnx_runner(session: Any) -> Runner:
    inputs = session.get_inputs()
    if len(inputs) != 2:
        raise ImgOpenError("503", f"a LaMa ONNX export takes an image and a mask; this one takes {len(inputs)} inputs")
    # The image input has 3 channels, the mask 1; names vary between exports ("image", "img", "mask").
    image_in, mask_in = sorted(inputs, key=lambda i: 0 if i.shape[1] == 3 else 1)
    dims = list(image_in.shape)[-2:]
    fixed = (int(dims[1]), int(dims[0])) if all(isinstance(d, int) and d > 0 for d in dims) else None
    output = session.get_outputs()[0].name

    def run(image: NDArray[np.float32], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray(session.run([output], {image_in.name: image, mask_in.name: mask})[0], np.float32)

    return run, fixed


def _output_scale(painted: NDArray[np.float32], given: NDArray[np.float32], known: NDArray[np.bool_]) -> float:
    """255 when the export answers in 0..255, else 1: read from the known pixels, which come back as given."""
    if known.any():
        out_mean, in_mean = float(painted[known].mean()), float(given[known].mean())
        return 255.0 if abs(out_mean - 255 * in_mean) < abs(out_mean - in_mean) else 1.0
    return 255.0 if float(painted.max()) > 2 else 1.0
