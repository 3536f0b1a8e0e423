"""watermark and watermark/decode, called directly: where the marks land, and the hidden text
surviving JPEG quality 85."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_checks
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.watermark import invisible
from imgopen.tools.watermark.tool import (
    WatermarkDecodeParams,
    WatermarkDecodeTool,
    WatermarkParams,
    WatermarkTool,
)
from tests.tools.conftest import stored


def mark(ctx: TaskContext, image: Image.Image, **params: object) -> Image.Image:
    result = WatermarkTool().run(WatermarkParams(sourceImage=data_uri(encode(image)), **params), ctx)
    return stored(ctx, result.outputImageUrl)


def changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.abs(np.asarray(a, np.int16) - np.asarray(b.convert(a.mode), np.int16)).max(axis=2) > 0


def test_visible_text_lands_only_in_its_corner(ctx: TaskContext) -> None:
    source = astronaut()
    out = mark(ctx, source, text="imgopen", position="bottomRight", opacity=0.8, fontSize=40)
    diff = changed(source, out)
    assert diff.sum() > 500
    ys, xs = np.nonzero(diff)
    assert ys.min() > 512 * 0.75 and xs.min() > 512 * 0.4
    top_left = mark(ctx, source, text="imgopen", position="topLeft", fontSize=40)
    ys, xs = np.nonzero(changed(source, top_left))
    assert ys.max() < 512 * 0.25 and xs.max() < 512 * 0.6


def test_image_mark_tiled_covers_the_picture(ctx: TaskContext) -> None:
    source = Image.new("RGB", (300, 200), (40, 40, 40))
    logo = Image.new("RGBA", (40, 20), (255, 255, 0, 255))
    out = mark(ctx, source, watermarkImage=data_uri(encode(logo)), position="tile", opacity=0.5, imageScale=0.1)
    diff = changed(source, out)
    rows, cols = np.nonzero(diff)
    assert rows.min() < 40 and rows.max() > 150 and cols.min() < 40 and cols.max() > 250
    # Half opacity: yellow over dark grey lands half way.
    red, blue = np.median(np.asarray(out)[diff][:, 0]), np.median(np.asarray(out)[diff][:, 2])
    assert 140 < red < 155 and blue < 45


def test_invisible_text_survives_jpeg_85_and_reads_back(ctx: TaskContext) -> None:
    source = astronaut()
    out = mark(ctx, source, invisibleText="order #4711 ✓")
    assert np.abs(np.asarray(out, np.int16) - np.asarray(source, np.int16)).mean() < 3  # not visible
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=85)
    decoded = WatermarkDecodeTool().run(WatermarkDecodeParams(sourceImage=data_uri(buffer.getvalue())), ctx)
    assert decoded.found and decoded.invisibleText == "order #4711 ✓"


def test_unmarked_image_reads_as_not_found(ctx: TaskContext) -> None:
    decoded = WatermarkDecodeTool().run(WatermarkDecodeParams(sourceImage=data_uri(encode(astronaut()))), ctx)
    assert not decoded.found and decoded.invisibleText is None


def test_limits_of_the_invisible_mark(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        WatermarkParams(sourceImage="x", invisibleText="x" * (invisible.MAX_TEXT_BYTES + 1))
    with pytest.raises(ImgOpenError) as multibyte:
        invisible.embed(astronaut(), "✓" * 7)  # 21 bytes in UTF-8
    assert multibyte.value.code == "400" and "19" in multibyte.value.msg
    tool, checks = WatermarkTool(), direct_checks(Settings(data_dir=tmp_path, database_url="sqlite://"))
    with pytest.raises(ImgOpenError) as small:
        tool.precheck(WatermarkParams(sourceImage="x", invisibleText="hi"), {"sourceImage": (200, 200)}, checks)
    assert small.value.code == "400" and "too small" in small.value.msg
    with pytest.raises(ImgOpenError) as crowded:
        tool.precheck(WatermarkParams(sourceImage="x", invisibleText="hello"), {"sourceImage": (320, 320)}, checks)
    assert crowded.value.code == "400" and "at most 3 bytes" in crowded.value.msg
    assert invisible.capacity(512, 512) == invisible.MAX_TEXT_BYTES == 19
    with pytest.raises(ValueError, match="give text"):
        WatermarkParams(sourceImage="x")
