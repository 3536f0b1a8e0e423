"""Straight line segments (the M-LSD ControlNet's input: walls, edges of furniture and buildings),
found with OpenCV's Fast Line Detector instead of the M-LSD network (not shipped anywhere)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from imgopen.vision.control.settings import ControlMap, PreprocessSettings, grey_map, rgb_array


def mlsd(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """thresholdA (0.01..2, default 0.1): shortest line kept, as a fraction of a quarter of the
    map's shorter side (0.1 -> 2.5% of it); thresholdB (0.01..20, default 0.1): how far apart
    (pixels, x10) two collinear pieces may be and still merge into one line."""
    rgb = rgb_array(image, settings.resolution)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    shortest = max(4, round(settings.a(0.1, 0.01, 2) * min(grey.shape) / 4))
    gap = settings.b(0.1, 0.01, 20) * 10
    detector = cv2.ximgproc.createFastLineDetector(
        length_threshold=shortest, distance_threshold=1.414, canny_th1=50, canny_th2=50, canny_aperture_size=3,
        do_merge=gap > 1,
    )  # fmt: skip
    found = detector.detect(grey)
    canvas = np.zeros(grey.shape, np.uint8)
    for x1, y1, x2, y2 in found.reshape(-1, 4) if found is not None else []:
        cv2.line(canvas, (round(x1), round(y1)), (round(x2), round(y2)), 255, 1, cv2.LINE_AA)
    return ControlMap(grey_map(canvas), "opencv-fast-line-detector")
