"""The edge refinement behind removeBg, on synthetic pictures whose true matte is known."""

from __future__ import annotations

import cv2
import numpy as np

from imgopen.vision.matting import drop_specks, estimate_foreground, refine_alpha


def disc_scene(size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """An orange disc on a blue-grey background, and its true matte."""
    truth = np.zeros((size, size), np.float32)
    cv2.circle(truth, (size // 2, size // 2), size // 3, 1.0, -1)
    rgb = np.empty((size, size, 3), np.uint8)
    rgb[:] = (90, 110, 140)
    rgb[truth > 0] = (230, 120, 40)
    return rgb, truth


def test_refinement_snaps_a_blurred_mask_to_the_picture_edge() -> None:
    rgb, truth = disc_scene()
    # What a low-resolution segmenter gives: the right shape, its edge smeared over ~16 px.
    coarse = cv2.GaussianBlur(truth, (0, 0), 5)
    alpha = refine_alpha(rgb, coarse)
    error_before = np.abs(coarse - truth).mean()
    error_after = np.abs(alpha - truth).mean()
    assert error_after < error_before / 3
    soft_before = ((coarse > 0.02) & (coarse < 0.98)).mean()
    soft_after = ((alpha > 0.02) & (alpha < 0.98)).mean()
    assert soft_after < soft_before / 3


def test_specks_go_and_the_subject_stays() -> None:
    alpha = np.zeros((200, 200), np.float32)
    alpha[40:160, 40:160] = 1.0
    alpha[5:9, 180:184] = 1.0  # a 16-pixel speck in the corner
    alpha[3:11, 178:186][alpha[3:11, 178:186] == 0] = 0.3  # with a soft rim
    cleaned = drop_specks(alpha)
    assert cleaned[:15, 170:].max() == 0
    assert np.array_equal(cleaned[30:170, 30:170], alpha[30:170, 30:170])


def test_foreground_colour_without_the_background() -> None:
    foreground, background = np.asarray((220, 40, 40), np.float32), np.asarray((20, 60, 220), np.float32)
    # A 6-pixel transition, as wide as removeBg's soft rim.
    alpha = np.zeros((32, 64), np.float32)
    alpha[:, 29:35] = np.linspace(1 / 7, 6 / 7, 6, dtype=np.float32)
    alpha[:, 35:] = 1.0
    observed = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    estimated = estimate_foreground(np.round(observed).astype(np.uint8), alpha).astype(np.float32)
    band = (alpha > 0.2) & (alpha < 0.8)
    error_observed = np.abs(observed[band] - foreground).mean()
    error_estimated = np.abs(estimated[band] - foreground).mean()
    assert error_estimated < error_observed / 2
    # Pixels that are fully one or the other keep their colour.
    assert np.array_equal(estimated[:, 50:], np.round(observed[:, 50:]))
