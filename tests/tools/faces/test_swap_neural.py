"""The neural swap's pre- and post-processing (ArcFace + inswapper_128), with small ONNX models of
the same interface: the aligned crop goes in and comes back to the same place, the source latent
is the normalised embedding times the model's emap, the output's colours land on the face only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from imgopen.tools.registry import AnyTool
from tests.tools.faces import tiny_onnx
from tests.tools.faces.conftest import ContextFactory, astronaut_rgb, call, lfw_portrait, output, uri

# The astronaut's face box and a generous square around it that contains the 128 px crop's footprint.
FACE = (177, 82, 95, 95)
AROUND = np.s_[0:300, 100:360]


def install(models: Path, mode: str, rng: np.random.Generator) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    embedding = rng.normal(size=512).astype(np.float32)
    emap = rng.normal(size=(512, 512)).astype(np.float32)
    tiny_onnx.arcface(models / "insightface" / "w600k_r50.onnx", embedding)
    tiny_onnx.inswapper(models / "insightface" / "inswapper_128.onnx", emap, mode)
    return embedding, emap


def outside(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    rest = image.copy()
    rest[AROUND] = 0
    return rest


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


def test_the_aligned_crop_is_pasted_back_where_it_came_from(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, models: Path
) -> None:
    """An inswapper that returns its target crop unchanged: the result is the target again, up to
    the resampling of the warp there and back (a wrong inverse would move or mirror the face)."""
    install(models, "identity", np.random.default_rng(1))
    ctx = make_ctx(models)
    target = astronaut_rgb()
    result = call(face_tools["roop"], ctx, sourceUrl=uri(lfw_portrait(3)), targetUrl=uri(target))
    assert result.method == "inswapper_128"
    swapped = output(ctx, result.outputImageUrl)
    np.testing.assert_array_equal(outside(swapped), outside(target))
    x, y, w, h = FACE
    face_error = np.abs(swapped.astype(int) - target.astype(int))[y : y + h, x : x + w]
    assert face_error.mean() < 3.0 and np.percentile(face_error, 99) < 30


def test_the_source_latent_and_the_output_colours(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, models: Path
) -> None:
    """An ArcFace that always answers `embedding`, and an inswapper that paints every pixel of its
    crop 0.5 + 10 * source[:3]: the face must show the colour of the latent the tool should have
    fed, normalise(normalise(embedding) @ emap), in RGB order and scaled to 0..255."""
    embedding, emap = install(models, "latent", np.random.default_rng(2))
    identity = embedding / np.linalg.norm(embedding)
    latent = identity @ emap
    latent /= np.linalg.norm(latent)
    colour = np.clip(0.5 + 10 * latent[:3], 0, 1) * 255
    assert np.ptp(colour) > 40  # distinct channels, so a swapped R and B would show
    ctx = make_ctx(models)
    target = astronaut_rgb()
    swapped = output(
        ctx, call(face_tools["roop"], ctx, sourceUrl=uri(lfw_portrait(3)), targetUrl=uri(target)).outputImageUrl
    )
    x, y, w, h = FACE
    centre = swapped[y + h // 3 : y + 2 * h // 3, x + w // 3 : x + 2 * w // 3].reshape(-1, 3)
    np.testing.assert_allclose(centre.mean(axis=0), colour, atol=2.0)
    assert np.abs(centre.astype(float) - colour).max() <= 3
    np.testing.assert_array_equal(outside(swapped), outside(target))


def test_a_swapper_without_a_recogniser_falls_back_to_the_mesh_swap_with_a_warning(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, models: Path
) -> None:
    install(models, "identity", np.random.default_rng(3))
    (models / "insightface" / "w600k_r50.onnx").unlink()
    ctx = make_ctx(models)
    result = call(face_tools["roop"], ctx, sourceUrl=uri(lfw_portrait(3)), targetUrl=uri(astronaut_rgb()))
    assert result.method == "mediapipe-facemesh"
    assert any("w600k_r50.onnx" in warning and "insightface" in warning for warning in ctx.warnings)
