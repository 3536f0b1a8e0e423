"""imgExpand: the canvas grows by the two ratios with the original pixels exactly in its centre, by
the classical fill out of the box and by SD inpainting with the tiny checkpoint; bad ratios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pydantic import ValidationError

from imgopen.errors import ImgOpenError
from imgopen.services import Services
from imgopen.testing.direct import direct_checks
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.pixels import outpaint_fill, sd_paint
from imgopen.tools.pixels.expand import ImgExpandParams, ImgExpandTool
from tests.tools.pixels.conftest import context, pixels


def photo(width: int, height: int) -> Image.Image:
    """The astronaut's head and shoulders, resized to width x height."""
    return astronaut().crop((60, 20, 460, 320)).resize((width, height), Image.Resampling.LANCZOS)


def params(image: Image.Image, horizontal: float, vertical: float, **extra: object) -> ImgExpandParams:
    return ImgExpandParams(
        sourceImage=data_uri(encode(image)),
        horizontalExpansionRatio=horizontal,
        verticalExpansionRatio=vertical,
        **extra,
    )


def centre_of(out: NDArray[np.int_], source: Image.Image) -> NDArray[np.int_]:
    """The part of `out` where the centred original should be (offsets rounded down)."""
    left, top = (out.shape[1] - source.width) // 2, (out.shape[0] - source.height) // 2
    return out[top : top + source.height, left : left + source.width]


@pytest.mark.parametrize(
    ("size", "horizontal", "vertical", "expected"),
    [((120, 80), 1.5, 2.0, (180, 160)), ((101, 77), 1.3, 1.0, (131, 77)), ((64, 90), 1.0, 3.7, (64, 333))],
)
def test_classical_keeps_the_centre_exactly_and_makes_the_size(
    tmp_path: Path, size: tuple[int, int], horizontal: float, vertical: float, expected: tuple[int, int]
) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    source = photo(*size)
    result = ImgExpandTool().run(params(source, horizontal, vertical, imageCount=2, seed=11), ctx)
    assert result.method == outpaint_fill.METHOD == "classical-mirror-blur"
    assert (result.width, result.height) == expected and result.seeds == [11, 12]
    assert len(result.outputImageUrls) == 2 and result.outputImageUrl == result.outputImageUrls[0]
    first, second = (pixels(ctx, key) for key in result.outputImageUrls)
    original = np.asarray(source).astype(int)
    for out in (first, second):
        assert out.shape == (expected[1], expected[0], 3)
        assert np.array_equal(centre_of(out, source), original)
    # The new area continues the picture (the column beside the original is close to its edge
    # column) and is not flat; each seed has its own grain.
    left = (expected[0] - size[0]) // 2
    if left:
        beside, edge = first[:, left - 1], first[:, left]
        assert np.abs(beside - edge).mean() < 20 and first[:, :left].std() > 10
    assert not np.array_equal(first, second)


def test_sd_keeps_the_centre_exactly_and_makes_one_image_per_seed(
    engine_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny model's VAE scales by 2, not 8: it paints at 64 px here, not 256 (CPU time).
    monkeypatch.setattr(sd_paint, "work_side", lambda _engine, _region: 64)
    ctx = context(tmp_path, tmp_path / "models")
    source = photo(100, 60)
    tool = ImgExpandTool(engine_services.engine)
    request = params(source, 1.5, 2.0, imageCount=2, seed=7, sampleStep=2, prompt="a rocket")
    result = tool.run(request, ctx)  # "auto": the engine has a checkpoint, so SD paints
    assert result.method == "sd-inpaint:tiny-sd15" and result.seeds == [7, 8]
    assert (result.width, result.height) == (150, 120) and len(result.outputImageUrls) == 2
    first, second = (pixels(ctx, key) for key in result.outputImageUrls)
    start = outpaint_fill.fill(np.asarray(source), (150, 120), (25, 30), 7).astype(int)
    border = np.ones((120, 150), bool)
    border[30:90, 25:125] = False
    for out in (first, second):
        assert out.shape == (120, 150, 3)
        assert np.array_equal(centre_of(out, source), np.asarray(source).astype(int))
        assert np.abs(out[border] - start[border]).mean() > 5  # SD painted over the classical fill
    assert np.abs(first[border] - second[border]).mean() > 2  # another seed, another painting


def test_ratios_out_of_range_name_the_field_and_no_growth_is_400(tmp_path: Path) -> None:
    source = photo(40, 30)
    for field, bad in (("horizontalExpansionRatio", 0.5), ("verticalExpansionRatio", 5.0)):
        ratios = {"horizontal": 1.5, "vertical": 1.5} | {field.removesuffix("ExpansionRatio"): bad}
        with pytest.raises(ValidationError) as refused:
            params(source, ratios["horizontal"], ratios["vertical"], imageCount=1)
        assert [error["loc"] for error in refused.value.errors()] == [(field,)]
    ctx = context(tmp_path, tmp_path / "models")
    tool, checks = ImgExpandTool(), direct_checks(ctx.settings)
    for horizontal, vertical in ((1.0, 1.0), (1.01, 1.0)):  # 40 x 1.01 rounds back to 40: no growth either
        with pytest.raises(ImgOpenError) as same:
            tool.run(params(source, horizontal, vertical, imageCount=1), ctx)
        assert same.value.code == "400" and "ExpansionRatio" in same.value.msg
    with pytest.raises(ImgOpenError) as huge:
        tool.precheck(params(source, 4, 4, imageCount=1), {"sourceImage": (4000, 4000)}, checks)
    assert huge.value.code == "400" and "16000x16000" in huge.value.msg
    with pytest.raises(ImgOpenError) as no_sd:
        tool.precheck(params(source, 2, 2, imageCount=1, model="sd"), {"sourceImage": (40, 30)}, checks)
    assert no_sd.value.code == "503" and "checkpoint" in no_sd.value.msg
