"""The pixel tools through the real server over HTTP: a round trip each (superResolution, imgEnlarge
"auto", erase, imgExpand, cnt/preview), refusals at submit ("400" naming the field) and failed
tasks (an empty mask)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from imgopen.client import ApiError
from imgopen.services import build_services
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.pixels.cnt_preview import NAMES
from tests.conftest import Served, SettingsFactory

Bid = Callable[[str], str]


@pytest.fixture(scope="module")
def served(make_settings: SettingsFactory) -> Iterator[Served]:
    running = Served(build_services(make_settings()))  # an empty models folder: the out-of-the-box methods
    yield running
    running.stop()


def uri(image: Image.Image) -> str:
    return data_uri(encode(image))


def photo(width: int, height: int) -> Image.Image:
    return astronaut().crop((100, 0, 400, 225)).resize((width, height), Image.Resampling.LANCZOS)


def download(served: Served, url: str) -> NDArray[np.int_]:
    return np.asarray(Image.open(io.BytesIO(served.client.download(url))).convert("RGB")).astype(int)


def finished(served: Served, code: str, bid: Bid, **body: Any) -> dict[str, Any]:
    answer = served.client.wait(served.client.submit_tool(code, bid(code.replace("/", "-")), **body), timeout=120)
    assert answer["state"] == "success" and answer["status"] == 1, answer
    return answer


def refused(served: Served, code: str, bid: Bid, **body: Any) -> ApiError:
    with pytest.raises(ApiError) as error:
        served.client.submit_tool(code, bid("bad"), **body)
    return error.value


def test_super_resolution_and_img_enlarge_auto(served: Served, bid: Bid) -> None:
    small = photo(64, 48)
    for scale in (2, 4):
        answer = finished(served, "superResolution", bid, sourceImage=uri(small), scale=scale)
        assert answer["method"] == f"realesr-animevideov3-x{scale}"
        assert (answer["width"], answer["height"]) == (64 * scale, 48 * scale)
        assert download(served, answer["outputImageUrl"]).shape == (48 * scale, 64 * scale, 3)
    enlarged = finished(served, "imgEnlarge", bid, sourceImage=uri(small), scale=3, model="auto")
    assert enlarged["method"] == "realesr-animevideov3-x3" and (enlarged["width"], enlarged["height"]) == (192, 144)
    unknown = refused(served, "superResolution", bid, sourceImage=uri(small), model="4x-nothing.pth")
    assert unknown.code == "400" and "4x-nothing.pth" in unknown.msg and "realesrgan-x4plus" in unknown.msg
    bad_scale = refused(served, "superResolution", bid, sourceImage=uri(small), scale=3)
    assert bad_scale.code == "400" and "scale" in bad_scale.msg


def test_erase(served: Served, bid: Bid) -> None:
    source = photo(160, 120)
    mask = Image.new("L", source.size, 0)
    mask.paste(255, (60, 40, 90, 70))
    answer = finished(served, "erase", bid, sourceImage=uri(source), maskImage=uri(mask), maskDilation=2)
    assert answer["method"] == "opencv-xphoto-fsr" and (answer["width"], answer["height"]) == (160, 120)
    out, before = download(served, answer["outputImageUrl"]), np.asarray(source).astype(int)
    assert np.abs(out[40:70, 60:90] - before[40:70, 60:90]).mean() > 3  # the hole was rebuilt
    outside = np.ones((120, 160), bool)
    outside[38:72, 58:92] = False  # the mask grown by maskDilation
    assert np.array_equal(out[outside], before[outside])
    other_shape = refused(served, "erase", bid, sourceImage=uri(source), maskImage=uri(Image.new("L", (100, 100))))
    assert other_shape.code == "400" and "maskImage" in other_shape.msg and "100x100" in other_shape.msg
    # An empty mask is only seen when the task reads it: the task fails with "400", as the tool documents.
    empty = served.client.wait(
        served.client.erase(bid("erase"), uri(source), uri(Image.new("L", source.size, 0))), timeout=60
    )
    assert empty["state"] == "failed" and empty["status"] == 2
    assert empty["errorCode"] == "400" and "maskImage" in empty["errorMsg"] and "empty" in empty["errorMsg"]


def test_img_expand(served: Served, bid: Bid) -> None:
    source = photo(80, 60)
    answer = finished(
        served, "imgExpand", bid, sourceImage=uri(source), imageCount=2, seed=3,
        horizontalExpansionRatio=1.5, verticalExpansionRatio=2,
    )  # fmt: skip
    assert answer["method"] == "classical-mirror-blur" and answer["seeds"] == [3, 4]
    assert (answer["width"], answer["height"]) == (120, 120) and len(answer["outputImageUrls"]) == 2
    for url in answer["outputImageUrls"]:
        out = download(served, url)
        assert out.shape == (120, 120, 3) and np.array_equal(out[30:90, 20:100], np.asarray(source).astype(int))
    for field, ratio in (("verticalExpansionRatio", 0.5), ("horizontalExpansionRatio", 5)):
        ratios = {"verticalExpansionRatio": 1.5, "horizontalExpansionRatio": 1.5, field: ratio}
        error = refused(served, "imgExpand", bid, sourceImage=uri(source), imageCount=1, **ratios)
        assert error.code == "400" and field in error.msg
    same = refused(
        served, "imgExpand", bid, sourceImage=uri(source), imageCount=1,
        horizontalExpansionRatio=1, verticalExpansionRatio=1,
    )  # fmt: skip
    assert same.code == "400" and "ExpansionRatio" in same.msg
    no_count = refused(served, "imgExpand", bid, sourceImage=uri(source), horizontalExpansionRatio=2)
    assert no_count.code == "400" and "imageCount" in no_count.msg and "verticalExpansionRatio" in no_count.msg


def test_cnt_preview(served: Served, bid: Bid) -> None:
    source = photo(200, 150)
    answer = finished(served, "cnt/preview", bid, sourceImage=uri(source), preprocessor="canny", processorRes=120)
    assert answer["method"] == "opencv-canny" and (answer["width"], answer["height"]) == (160, 120)
    edges = download(served, answer["outputImageUrl"])
    assert edges.shape == (120, 160, 3) and set(np.unique(edges)) == {0, 255}
    assert answer["poseKeypoints"] is None
    unknown = refused(served, "cnt/preview", bid, sourceImage=uri(source), preprocessor="sobel")
    assert unknown.code == "400" and "preprocessor" in unknown.msg and all(name in unknown.msg for name in NAMES)
    no_depth = refused(served, "cnt/preview", bid, sourceImage=uri(source), preprocessor="depth")
    assert no_depth.code == "503" and "annotators" in no_depth.msg
