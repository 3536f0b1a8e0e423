"""imgEnlarge, called directly: sizes, quality against simpler resampling, transparency."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_checks
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.img_enlarge import ImgEnlargeParams, ImgEnlargeTool
from imgopen.tools.img_enlarge_spec import ImgEnlargeSpec
from imgopen.vision.upscale.service import Upscalers
from tests.tools.conftest import stored


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(10 * np.log10(255**2 / np.mean(diff**2)))


def run(ctx: TaskContext, image: Image.Image, **params: object) -> tuple[Image.Image, dict[str, object]]:
    result = ImgEnlargeTool(Upscalers(ctx.settings.models_dir)).run(
        ImgEnlargeParams(sourceImage=data_uri(encode(image)), **params), ctx
    )
    return stored(ctx, result.outputImageUrl), result.model_dump()


def test_scale_4_restores_detail_better_than_nearest_and_bilinear(ctx: TaskContext) -> None:
    original = astronaut()
    small = original.resize((128, 128), Image.Resampling.BOX)
    enlarged, result = run(ctx, small, scale=4)
    assert enlarged.size == (512, 512) and (result["width"], result["height"]) == (512, 512)
    assert result["method"] == "lanczos"
    ours = psnr(enlarged, original)
    assert ours > psnr(small.resize((512, 512), Image.Resampling.NEAREST), original) + 1.0
    assert ours > psnr(small.resize((512, 512), Image.Resampling.BILINEAR), original)


def test_target_sizes(ctx: TaskContext) -> None:
    source = astronaut().resize((200, 100))
    assert run(ctx, source, targetWidth=500)[0].size == (500, 250)
    assert run(ctx, source, targetHeight=300)[0].size == (600, 300)
    assert run(ctx, source, targetWidth=321, targetHeight=123)[0].size == (321, 123)
    assert run(ctx, source, scale=1.5, outputFormat="jpeg")[0].format == "JPEG"


def test_transparency_is_kept_without_colour_bleed(ctx: TaskContext) -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 1] = 255  # fully transparent green: hidden, must not leak into the edges
    rgba[8:24, 8:24] = (255, 0, 0, 255)
    enlarged, _ = run(ctx, Image.fromarray(rgba, "RGBA"), scale=4)
    pixels = np.asarray(enlarged)
    assert enlarged.mode == "RGBA"
    visible = pixels[..., 3] > 16
    assert pixels[visible][:, 1].max() < 40  # no green where anything shows
    assert pixels[0, 0, 3] == 0 and pixels[64, 64, 3] == 255


def test_scale_and_target_together_or_neither_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        ImgEnlargeParams(sourceImage="x", scale=2, targetWidth=10)
    with pytest.raises(ValueError, match="give scale"):
        ImgEnlargeParams(sourceImage="x")


def test_output_over_the_pixel_limit_is_400(ctx: TaskContext) -> None:
    params = ImgEnlargeParams(sourceImage="x", scale=8)
    with pytest.raises(ImgOpenError) as refused:
        ImgEnlargeSpec().precheck(params, {"sourceImage": (5000, 5000)}, direct_checks(ctx.settings))
    assert refused.value.code == "400" and "scale" in refused.value.msg


def test_an_output_of_the_input_s_size_is_refused(ctx: TaskContext) -> None:
    """Scale 1 (or the same target size) would hand the image back as it is."""
    checks = direct_checks(ctx.settings)
    for params in (
        ImgEnlargeParams(sourceImage="x", scale=1),
        ImgEnlargeParams(sourceImage="x", targetWidth=300),
        ImgEnlargeParams(sourceImage="x", targetWidth=300, targetHeight=200),
    ):
        with pytest.raises(ImgOpenError) as refused:
            ImgEnlargeSpec().precheck(params, {"sourceImage": (300, 200)}, checks)
        assert refused.value.code == "400" and "the size of the input" in refused.value.msg
    ImgEnlargeSpec().precheck(ImgEnlargeParams(sourceImage="x", scale=1.01), {"sourceImage": (300, 200)}, checks)
