"""Edge and line maps: canny, HED soft edges, line art, scribbles, binary, invert. White lines on
black, as the ControlNets of these kinds were trained on."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.vision.control.settings import ControlMap, PreprocessSettings, grey_map, rgb_array
from imgopen.vision.hed import METHOD as HED


def canny(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    low, high = settings.a(100, 1, 255), settings.b(200, 1, 255)
    grey = cv2.cvtColor(rgb_array(image, settings.resolution), cv2.COLOR_RGB2GRAY)
    return ControlMap(grey_map(cv2.Canny(grey, low, high)), "opencv-canny")


def invert(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """For drawings already made of black lines on white: the lines become white on black."""
    return ControlMap(Image.fromarray(255 - rgb_array(image, settings.resolution)), "invert")


def binary(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """White where the image is darker than thresholdA (0: Otsu's threshold, chosen per image)."""
    grey = cv2.cvtColor(rgb_array(image, settings.resolution), cv2.COLOR_RGB2GRAY)
    level = settings.a(0, 0, 255)
    flags = cv2.THRESH_BINARY_INV | (cv2.THRESH_OTSU if level in (0, 255) else 0)
    _, result = cv2.threshold(grey, level, 255, flags)
    return ControlMap(grey_map(result), "otsu-threshold" if flags & cv2.THRESH_OTSU else "threshold")


def hed_edges(image: Image.Image, settings: PreprocessSettings) -> NDArray[np.float32]:
    return settings.networks().hed.edges(rgb_array(image, settings.resolution))


def softedge_hed(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    edges = hed_edges(image, settings)
    return ControlMap(grey_map((edges * 255 + 0.5).astype(np.uint8)), HED)


def softedge_hedsafe(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """HED quantised to a few levels: hides the faint texture edges a ControlNet would copy literally."""
    edges = np.floor(hed_edges(image, settings) * 4 + 0.3) / 4
    return ControlMap(grey_map((np.clip(edges, 0, 1) * 255).astype(np.uint8)), f"{HED}-safe")


def thin(edges: NDArray[np.float32]) -> NDArray[np.float32]:
    """Non-maximum suppression across the edge: HED's wide soft ridges become one-pixel lines."""
    smooth = cv2.GaussianBlur(edges, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    # The gradient points across the ridge; its angle quantised to 0, 45, 90 or 135 degrees.
    angle = (np.round(np.arctan2(gy, gx) / (np.pi / 4)).astype(np.int32)) % 4
    padded = np.pad(smooth, 1, mode="edge")
    height, width = smooth.shape
    keep = np.zeros(smooth.shape, bool)
    for direction, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead = padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        behind = padded[1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]
        keep |= (angle == direction) & (smooth >= ahead) & (smooth >= behind)
    return np.where(keep, edges, 0).astype(np.float32)


def lineart(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """Thin lines from HED: ridges kept where stronger than thresholdA (0..1, default 0.15)."""
    edges = hed_edges(image, settings)
    lines = thin(edges)
    lines = np.where(lines >= settings.a(0.15, 0, 1), np.sqrt(lines), 0).astype(np.float32)
    # A touch of blur: line-art ControlNets were trained on anti-aliased strokes.
    lines = cv2.GaussianBlur(lines, (0, 0), 0.6) * 1.6
    return ControlMap(grey_map((np.clip(lines, 0, 1) * 255).astype(np.uint8)), f"{HED}-thin")


def lineart_standard(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """Classical line extraction: how much darker each pixel is than its blurred surroundings."""
    rgb = rgb_array(image, settings.resolution).astype(np.float32)
    darker = np.min(cv2.GaussianBlur(rgb, (0, 0), 6.0) - rgb, axis=2).clip(0, 255)
    strong = darker[darker > 8]
    norm = max(16.0, float(np.median(strong))) if strong.size else 16.0
    return ControlMap(grey_map((darker / norm * 127).clip(0, 255).astype(np.uint8)), "difference-of-gaussians")


def scribble(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """Bold binary strokes along HED's main edges, like a quick sketch by hand."""
    lines = thin(hed_edges(image, settings))
    strokes = cv2.GaussianBlur((lines > settings.a(0.2, 0, 1)).astype(np.float32), (0, 0), 2.0)
    return ControlMap(grey_map(np.where(strokes > 0.1, 255, 0).astype(np.uint8)), f"{HED}-scribble")


def scribble_xdog(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """Strokes from an extended difference of Gaussians; thresholdA (1..64, default 32) keeps
    fewer strokes when higher."""
    rgb = rgb_array(image, settings.resolution).astype(np.float32)
    dog = cv2.GaussianBlur(rgb, (0, 0), 0.5) - cv2.GaussianBlur(rgb, (0, 0), 5.0)
    strokes = np.min(dog, axis=2) < -settings.a(32, 1, 64)
    return ControlMap(grey_map(np.where(strokes, 255, 0).astype(np.uint8)), "xdog")
