"""Salient-object and matting networks exported to ONNX (U²-Net, ISNet, BiRefNet), as rembg runs
them: the input is scaled to the network's square, divided by its brightest value and normalised
per channel; the first output's first map is the saliency, min-max normalised and scaled back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class SaliencyNet:
    """How one family of networks wants its input and gives its output."""

    name: str
    side: int  # the square input the network was trained at (used when the ONNX input is dynamic)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    logits: bool = False  # BiRefNet exports end before the sigmoid


def input_side(session: Any, net: SaliencyNet) -> tuple[int, int]:
    """(width, height) the ONNX graph asks for; the network's own size where the graph leaves it open."""
    shape = session.get_inputs()[0].shape
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        return width, height
    return net.side, net.side


def preprocess(image: Image.Image, net: SaliencyNet, size: tuple[int, int]) -> NDArray[np.float32]:
    """1 x 3 x H x W float32 for the network."""
    pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.LANCZOS), np.float32)
    # Divided by the image's own maximum, not 255: U²-Net's training code did so and rembg kept it.
    pixels = pixels / max(float(pixels.max()), 1e-6)
    mean = np.asarray(net.mean, np.float32)
    std = np.asarray(net.std, np.float32)
    normalised = (pixels - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], np.float32)


def postprocess(output: NDArray[Any], net: SaliencyNet, size: tuple[int, int]) -> NDArray[np.float32]:
    """The saliency map (0..1, H x W of `size` = (width, height)) from the network's first output."""
    pred = np.asarray(output, np.float32)
    while pred.ndim > 2:
        pred = pred[0]
    if net.logits:
        pred = np.asarray(1.0 / (1.0 + np.exp(-pred)), np.float32)
    low, high = float(pred.min()), float(pred.max())
    # Stretched to the full range, as rembg does: the networks' raw maxima vary per image.
    pred = (pred - low) / (high - low) if high > low else np.zeros_like(pred)
    mask = Image.fromarray(np.asarray(np.round(pred * 255), np.uint8), "L")
    resized = mask.resize(size, Image.Resampling.LANCZOS) if mask.size != size else mask
    return np.asarray(resized, np.float32) / 255.0


def run_saliency(session: Any, net: SaliencyNet, image: Image.Image) -> NDArray[np.float32]:
    """The network's saliency map for `image`, at the image's size."""
    size = input_side(session, net)
    feed = {session.get_inputs()[0].name: preprocess(image, net, size)}
    output = session.run(None, feed)[0]
    return postprocess(output, net, image.size)
