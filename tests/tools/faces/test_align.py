"""Five-point alignment: the similarity fit, the models' templates, crop and paste back."""

from __future__ import annotations

import numpy as np

from imgopen.vision import face_align
from tests.tools.faces.conftest import astronaut_rgb


def test_similarity_recovers_a_known_transform_exactly() -> None:
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = face_align.ARCFACE_112
    moved = (source @ rotation.T + shift).astype(np.float32)
    matrix = face_align.similarity(source, moved)
    np.testing.assert_allclose(matrix[:, :2], rotation, atol=1e-4)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-3)
    assert abs(face_align.matrix_scale(matrix) - scale) < 1e-4


def test_templates_of_the_models() -> None:
    np.testing.assert_allclose(face_align.arcface_template(112), face_align.ARCFACE_112)
    np.testing.assert_allclose(face_align.arcface_template(224), face_align.ARCFACE_112 * 2)
    # inswapper's 128 px crop: insightface's template shifted 8 px right, not scaled
    np.testing.assert_allclose(face_align.arcface_template(128), face_align.ARCFACE_112 + np.array([8.0, 0.0]))
    np.testing.assert_allclose(face_align.ffhq_template(256), face_align.FFHQ_512 / 2)


def test_crop_puts_the_points_on_the_template_and_paste_puts_it_back() -> None:
    image = astronaut_rgb()
    five = np.array([[204.0, 102.0], [246.5, 104.7], [223.2, 131.2], [202.6, 139.5], [245.7, 140.5]], np.float32)
    template = face_align.ffhq_template(256)
    aligned, matrix = face_align.crop(image, five, template, 256)
    assert aligned.shape == (256, 256, 3)
    mapped = five @ matrix[:, :2].T + matrix[:, 2]
    # a least-squares fit: a real face's five points are near the template's, not on them
    residual = np.linalg.norm(mapped - template, axis=1)
    assert residual.mean() < 7 and residual.max() < 12
    mask = np.ones((256, 256), np.float32)
    pasted = face_align.paste(image, aligned, matrix, mask)
    region = np.s_[100:140, 200:250]
    assert np.abs(pasted[region].astype(int) - image[region].astype(int)).mean() < 4
    untouched = np.s_[300:, :]
    np.testing.assert_array_equal(pasted[untouched], image[untouched])
