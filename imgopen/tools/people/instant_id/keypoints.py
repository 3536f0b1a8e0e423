"""InstantID's control image: the face's five keypoints drawn as coloured limbs and dots on black,
the drawing IdentityNet was trained on, placed where the face sits in the output frame."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

# Left eye, right eye, nose tip, mouth left, mouth right: each its colour; the limbs join the nose.
COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255))
LIMBS = ((0, 2), (1, 2), (3, 2), (4, 2))
LIMB_WIDTH = 4
DOT_RADIUS = 10
LIMB_DIMMING = 0.6  # limbs darker than the dots, as in the training data


def fit_points(points: NDArray[np.float32], source: tuple[int, int], target: tuple[int, int]) -> NDArray[np.float32]:
    """Keypoints of a source-sized image, placed in a target-sized frame the source is fitted into
    (scaled to fit, centred), so the face keeps its place in the picture."""
    scale = min(target[0] / source[0], target[1] / source[1])
    offset = np.asarray([(target[0] - source[0] * scale) / 2, (target[1] - source[1] * scale) / 2], np.float32)
    return np.asarray(points * scale + offset, np.float32)


def draw_keypoints(points: NDArray[np.float32], size: tuple[int, int]) -> Image.Image:
    """The control image (RGB, `size` = width, height)."""
    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8)
    for start, end in LIMBS:
        (x1, y1), (x2, y2) = points[start], points[end]
        length = math.hypot(x2 - x1, y2 - y1)
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
        centre = (round((x1 + x2) / 2), round((y1 + y2) / 2))
        polygon = cv2.ellipse2Poly(centre, (round(length / 2), LIMB_WIDTH), round(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, np.asarray(polygon, np.int32), COLORS[start])
    dimmed = np.asarray(canvas.astype(np.float32) * LIMB_DIMMING, np.uint8)
    for index, (x, y) in enumerate(points):
        cv2.circle(dimmed, (round(float(x)), round(float(y))), DOT_RADIUS, COLORS[index], -1)
    return Image.fromarray(dimmed)
