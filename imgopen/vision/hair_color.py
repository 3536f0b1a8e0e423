"""Hair recolouring that keeps the hair's texture: in CIE Lab, the hair's mean lightness and
chroma move to the target's while each strand keeps its deviation from the mean (the lightness
deviations scaled with the change, so dark hair turned light keeps visible strands)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

CHROMA_KEEP = 0.5  # how much of the hair's own colour variation survives (0: a flat dye)


def _lab(rgb01: NDArray[Any]) -> NDArray[np.float32]:
    return np.asarray(cv2.cvtColor(np.asarray(rgb01, np.float32)[None], cv2.COLOR_RGB2Lab)[0], np.float32)


def recolour_hair(
    rgb: NDArray[np.uint8], alpha: NDArray[np.float32], target: tuple[int, int, int], strength: float = 1.0
) -> NDArray[np.uint8]:
    """`rgb` with the hair (alpha > 0) dyed `target`; every pixel where alpha is 0 is unchanged."""
    selected = alpha > 0
    if not selected.any():
        return rgb.copy()
    pixels = rgb[selected].astype(np.float32) / 255
    lab = _lab(pixels)
    goal = _lab(np.asarray([target], np.float32) / 255)[0]
    weight = alpha[selected]
    core = weight > 0.5
    reference = lab[core] if core.any() else lab
    mean = reference.mean(axis=0)
    # Lightness spreads with lightness (a dark head's strands sit close together).
    gain = float(np.clip((goal[0] + 10.0) / (mean[0] + 10.0), 0.6, 1.6))
    dyed = np.empty_like(lab)
    dyed[:, 0] = np.clip(goal[0] + (lab[:, 0] - mean[0]) * gain, 0.0, 100.0)
    dyed[:, 1:] = goal[1:] + (lab[:, 1:] - mean[1:]) * CHROMA_KEEP
    dyed_rgb = np.asarray(cv2.cvtColor(dyed[None], cv2.COLOR_Lab2RGB)[0], np.float32)
    blend = (weight * strength)[:, None]
    mixed = dyed_rgb * blend + pixels * (1.0 - blend)
    out = rgb.copy()
    out[selected] = np.clip(np.round(mixed * 255), 0, 255).astype(np.uint8)
    return out
