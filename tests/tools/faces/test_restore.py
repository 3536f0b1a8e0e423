"""codeformer (face restoration), v2/roop and the SD endpoints' restorer: sizes, changes only in
face regions, the offline Real-ESRGAN method, and the ONNX restorers' pre- and post-processing
with small models (GFPGAN's and CodeFormer's interfaces) whose output is the negated input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.testing.direct import direct_checks
from imgopen.tools.faces.restorer import FaceRestorer
from imgopen.tools.registry import AnyTool
from tests.tools.faces import tiny_onnx
from tests.tools.faces.conftest import ContextFactory, astronaut_rgb, call, lfw_portrait, output, two_faces, uri

ByteArray = NDArray[np.uint8]


def small_astronaut() -> ByteArray:
    """The astronaut at 192 px: the offline restorer's crop is then the smallest, 64 px (Real-ESRGAN
    x4plus takes ~1 s for it on 2 idle cores)."""
    return np.asarray(cv2.resize(astronaut_rgb(), (192, 192), interpolation=cv2.INTER_AREA), np.uint8)


# The face of small_astronaut() (MediaPipe's box is about (66, 31, 36, 36)) with room for the soft mask.
SMALL_FACE = np.s_[12:90, 50:120]


def outside(image: ByteArray, region: tuple[slice, slice]) -> ByteArray:
    rest = image.copy()
    rest[region] = 0
    return rest


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


def test_offline_restoration_keeps_the_size_and_changes_only_the_face(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory
) -> None:
    ctx = make_ctx()
    image = small_astronaut()
    result = call(face_tools["codeformer"], ctx, sourceImage=uri(image), fidelityWeight=0.2)
    assert result.method == "realesrgan-x4plus-facecrop" and result.faceCount == 1
    restored = output(ctx, result.outputImageUrl)
    assert restored.shape == image.shape and (result.width, result.height) == (192, 192)
    np.testing.assert_array_equal(outside(restored, SMALL_FACE), outside(image, SMALL_FACE))
    change = np.abs(restored.astype(int) - image.astype(int))[SMALL_FACE]
    assert change.mean() > 1.0  # restored, not returned as it was
    # the restoration is a cleaner version of the same face, not another picture
    assert change.mean() < 12


def test_neural_restorers_feed_and_read_their_models_right(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, models: Path
) -> None:
    """Both small models return the negative of their 512 px input (in -1..1): so where the soft mask
    is full, a face pixel p comes back as 255 - p if the tool normalised, ordered channels and
    scaled back right (up to the blur of warping the crop there and back: ~5 levels at edges).
    CodeFormer's output is also multiplied by its "weight" input (the fidelity): 0.5 turns the face
    mid-grey. GFPGAN has no weight: the tool cross-fades its output with the crop by the fidelity,
    so 0.25 gives 0.75 * (255 - p) + 0.25 * p."""
    tiny_onnx.restorer(models / "facerestore_models" / "GFPGANv1.4.onnx", with_weight=False)
    image = astronaut_rgb()
    centre = np.s_[105:150, 200:250]  # cheeks, eyes and nose: inside the mask's full part
    original = image[centre].astype(float)
    ctx = make_ctx(models)
    gfpgan = call(face_tools["codeformer"], ctx, sourceImage=uri(image), fidelityWeight=0.25, model="gfpgan")
    assert gfpgan.method == "gfpgan"
    expected = 0.75 * (255 - original) + 0.25 * original
    got = output(ctx, gfpgan.outputImageUrl)[centre].astype(float)
    assert np.abs(got - expected).mean() < 8
    tiny_onnx.restorer(models / "facerestore_models" / "codeformer.onnx", with_weight=True)
    auto = call(face_tools["codeformer"], ctx, sourceImage=uri(image), fidelityWeight=1.0)
    assert auto.method == "codeformer"  # "auto" prefers CodeFormer
    assert np.abs(output(ctx, auto.outputImageUrl)[centre].astype(float) - (255 - original)).mean() < 8
    grey = call(face_tools["codeformer"], ctx, sourceImage=uri(image), fidelityWeight=0.5, model="codeformer")
    half = 255 * (0.5 * (-(original / 127.5 - 1)) + 1) / 2
    assert np.abs(output(ctx, grey.outputImageUrl)[centre].astype(float) - half).mean() < 8


def test_upscale_enlarges_the_whole_image_and_restores_every_face(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, models: Path
) -> None:
    tiny_onnx.restorer(models / "facerestore_models" / "GFPGANv1.4.onnx", with_weight=False)
    image = two_faces()[::2, ::2].copy()  # 400x200, two faces
    ctx = make_ctx(models)
    result = call(face_tools["codeformer"], ctx, sourceImage=uri(image), upscale=2, fidelityWeight=0.0)
    assert result.faceCount == 2 and (result.width, result.height) == (800, 400)
    assert result.method == "gfpgan+realesr-animevideov3-x2"
    big = output(ctx, result.outputImageUrl).astype(float)
    plain = cv2.resize(image, (800, 400), interpolation=cv2.INTER_CUBIC).astype(float)
    # the background is an enlargement of the image: close to bicubic away from the faces ...
    corner = np.s_[320:400, 0:100]
    assert np.abs(big[corner] - plain[corner]).mean() < 12
    # ... and both faces were restored: their centres are negated by the small GFPGAN
    for x in (200, 600):
        face_centre = np.s_[150:190, x - 20 : x + 20]
        assert np.abs(big[face_centre] - (255 - plain[face_centre])).mean() < 20


def test_model_not_installed_is_503_at_submit_and_no_face_is_400(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory
) -> None:
    tool = face_tools["codeformer"]
    ctx = make_ctx()
    checks = direct_checks(ctx.settings)
    for model, file in (("codeformer", "codeformer.onnx"), ("gfpgan", "GFPGANv1.4.onnx")):
        params = tool.params_model.model_validate({"sourceImage": "x", "model": model})
        with pytest.raises(ImgOpenError) as missing:
            tool.precheck(params, {"sourceImage": (256, 256)}, checks)
        assert missing.value.code == "503" and file in missing.value.msg
        assert str(ctx.settings.models_dir / "facerestore_models") in missing.value.msg
    params = tool.params_model.model_validate({"sourceImage": "x", "upscale": 4})
    with pytest.raises(ImgOpenError) as too_big:
        tool.precheck(params, {"sourceImage": (8000, 8000)}, checks)
    assert too_big.value.code == "400" and "upscale" in too_big.value.msg
    with pytest.raises(ImgOpenError) as no_face:
        call(tool, ctx, sourceImage=uri(np.asarray(Image.open(_coffee()))))
    assert no_face.value.code == "400" and "no face found in sourceImage" in no_face.value.msg


def _coffee() -> Path:
    from skimage import data

    return Path(data.__file__).parent / "coffee.png"


def test_v2_roop_restores_the_swapped_face_with_the_fidelity(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, models: Path
) -> None:
    tiny_onnx.restorer(models / "facerestore_models" / "GFPGANv1.4.onnx", with_weight=False)
    ctx = make_ctx(models)
    fields = {"sourceUrl": uri(lfw_portrait(3)), "targetUrl": uri(astronaut_rgb())}
    swapped = output(ctx, call(face_tools["roop"], ctx, **fields).outputImageUrl).astype(float)
    restored = call(face_tools["v2/roop"], ctx, fidelityWeight="0", **fields)
    assert restored.method == "mediapipe-facemesh+gfpgan"
    centre = np.s_[105:150, 200:250]
    got = output(ctx, restored.outputImageUrl).astype(float)
    assert np.abs(got[centre] - (255 - swapped[centre])).mean() < 8
    kept = call(face_tools["v2/roop"], ctx, fidelityWeight="1", **fields)
    assert np.abs(output(ctx, kept.outputImageUrl).astype(float) - swapped).mean() < 0.5


def test_the_sd_restorer_restores_faces_and_leaves_faceless_images_alone(models: Path, tmp_path: Path) -> None:
    tiny_onnx.restorer(models / "facerestore_models" / "GFPGANv1.4.onnx", with_weight=False)
    restorer = FaceRestorer(Settings(data_dir=tmp_path, models_dir=models, database_url="sqlite://"))
    image = Image.fromarray(astronaut_rgb())
    restored = np.asarray(restorer.restore(image), float)
    original = np.asarray(image, float)
    assert restored.shape == original.shape
    centre = np.s_[105:150, 200:250]
    assert np.abs(restored[centre] - (255 - original[centre]) * 0.5 - original[centre] * 0.5).mean() < 8
    np.testing.assert_array_equal(restored[400:], original[400:])
    scenery = Image.open(_coffee()).convert("RGB")
    assert np.array_equal(np.asarray(restorer.restore(scenery)), np.asarray(scenery))
    broken = models / "facerestore_models" / "GFPGANv1.4.onnx"
    broken.write_bytes(b"not an onnx file")
    with pytest.raises(ImgOpenError) as failed:
        FaceRestorer(Settings(data_dir=tmp_path, models_dir=models, database_url="sqlite://")).restore(image)
    assert failed.value.code == "503" and "GFPGANv1.4.onnx" in failed.value.msg
