"""depth and normal maps from an installed monocular depth network (ONNX): Depth Anything (V1/V2),
MiDaS or DPT exports, which take an ImageNet-normalised NCHW RGB image and give relative inverse
depth (near is large). No such network ships in any package, so without one these answer "503"
naming the file and the folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.vision.control.settings import ControlMap, PreprocessSettings, grey_map, rgb_array
from imgopen.vision.control.weights import DEPTH_WEIGHTS

_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _weights(settings: PreprocessSettings) -> Path:
    if settings.models_dir is None:
        raise ImgOpenError("503", DEPTH_WEIGHTS.missing_message(Path("<models folder>")))
    return DEPTH_WEIGHTS.require(settings.models_dir)


def _input_size(session: Any, path: Path, width: int, height: int) -> tuple[int, int]:
    """The network's fixed input size, else the map's size rounded to its patch multiple (14 for
    Depth Anything's ViT, 32 for MiDaS / DPT)."""
    shape = list(session.get_inputs()[0].shape)[-2:]
    if len(shape) == 2 and all(isinstance(d, int) and d > 0 for d in shape):
        return int(shape[1]), int(shape[0])
    step = 14 if "anything" in path.name.lower() else 32
    return max(step, round(width / step) * step), max(step, round(height / step) * step)


def relative_depth(image: Image.Image, settings: PreprocessSettings) -> tuple[NDArray[np.float32], str]:
    """Inverse depth normalised to 0 (farthest) .. 1 (nearest), the map's size; and the method."""
    path = _weights(settings)
    session = settings.networks().onnx(path)
    rgb = rgb_array(image, settings.resolution)
    height, width = rgb.shape[:2]
    in_w, in_h = _input_size(session, path, width, height)
    pixels = cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    tensor = ((pixels - _MEAN) / _STD).transpose(2, 0, 1)[None].astype(np.float32)
    output = np.asarray(session.run(None, {session.get_inputs()[0].name: tensor})[0], np.float32)
    raw = output.reshape(output.shape[-2:])
    sized = np.asarray(cv2.resize(raw, (width, height), interpolation=cv2.INTER_LINEAR), np.float32)
    low, high = float(sized.min()), float(sized.max())
    normalised = (sized - low) / (high - low) if high > low else np.zeros_like(sized)
    return normalised.astype(np.float32), f"onnx:{path.name}"


def depth(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    values, method = relative_depth(image, settings)
    return ControlMap(grey_map((values * 255 + 0.5).astype(np.uint8)), method)


def normal(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """Surface normals from the depth's slopes (R: right, G: up, B: towards the viewer).
    thresholdA (0..1, default 0.4): depth below it is background, drawn facing the viewer."""
    values, method = relative_depth(image, settings)
    # Slopes in units of the map's shorter side, so the look does not depend on the resolution.
    side = float(min(values.shape))
    dx = cv2.Sobel(values, cv2.CV_32F, 1, 0, ksize=3) * side / 8
    dy = cv2.Sobel(values, cv2.CV_32F, 0, 1, ksize=3) * side / 8
    background = values < settings.a(0.4, 0, 1)
    dx[background], dy[background] = 0, 0
    # Inverse depth grows towards the viewer: a surface leaning right has it falling to the right.
    vectors = np.stack([-dx, dy, np.ones_like(values)], axis=2)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    rgb = ((vectors * 0.5 + 0.5) * 255 + 0.5).clip(0, 255).astype(np.uint8)
    return ControlMap(Image.fromarray(rgb), f"{method}+slopes")
