"""The face tools through the real server: face/detection and roop end to end, refusals at submit,
failed tasks that say which image had no face, and the routes in /openapi.json."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from skimage import data

from imgopen.services import build_services
from tests.conftest import Served, SettingsFactory
from tests.tools.faces.conftest import astronaut_rgb, lfw_portrait, uri
from tests.tools.faces.test_detection import ASTRONAUT_FACE, iou


@pytest.fixture(scope="module")
def served(make_settings: SettingsFactory) -> Iterator[Served]:
    running = Served(build_services(make_settings()))
    yield running
    running.stop()


def download(served: Served, url: str) -> NDArray[np.uint8]:
    return np.asarray(Image.open(io.BytesIO(served.client.download(url))).convert("RGB"), np.uint8)


def test_detection(served: Served, bid: Callable[[str], str]) -> None:
    answer = served.client.wait(served.client.submit_tool("face/detection", bid("det"), imageUrl=uri(astronaut_rgb())))
    assert answer["state"] == "success" and answer["status"] == 1, answer
    assert answer["faceCount"] == 1 and answer["method"] == "mediapipe-blazeface"
    face = answer["faces"][0]
    box = (face["bbox"]["x"], face["bbox"]["y"], face["bbox"]["width"], face["bbox"]["height"])
    assert face["faceIdx"] == 1 and iou(box, ASTRONAUT_FACE) > 0.75 and len(face["landmarks"]) == 5
    assert download(served, face["cropUrl"]).shape[:2] == (
        box[3] + 2 * round(box[3] / 4),
        box[2] + 2 * round(box[2] / 4),
    )
    drawn = download(served, answer["outputImageUrl"])
    assert tuple(drawn[box[1], box[0] + box[2] // 2]) == (0, 255, 0)
    assert answer["outputImageUrls"] == [answer["outputImageUrl"]]


def test_roop(served: Served, bid: Callable[[str], str]) -> None:
    target = astronaut_rgb()
    handle = served.client.submit_tool("roop", bid("roop"), sourceUrl=uri(lfw_portrait(3)), targetUrl=uri(target))
    answer = served.client.wait(handle)
    assert answer["state"] == "success", answer
    assert answer["method"] == "mediapipe-facemesh" and answer["faceCount"] == 1
    swapped = download(served, answer["outputImageUrl"])
    assert swapped.shape == target.shape
    changed = np.abs(swapped.astype(int) - target.astype(int)).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    x, y, w, h = ASTRONAUT_FACE  # every change lies on the face (its box grown by a fifth)
    assert (
        xs.min() >= x - w // 5 and xs.max() <= x + w * 6 // 5 and ys.min() >= y - h // 5 and ys.max() <= y + h * 6 // 5
    )
    assert changed.sum() > 3000


def test_refusals_and_failures_name_the_field(served: Served, bid: Callable[[str], str]) -> None:
    face = uri(astronaut_rgb())
    bad_fidelity = served.client.envelope(
        "/tool/v2/roop", {"businessTaskId": bid("v2"), "sourceUrl": face, "targetUrl": face, "fidelityWeight": "2"}
    )
    assert bad_fidelity["code"] == "400" and "fidelityWeight" in bad_fidelity["msg"]
    tiny = served.client.envelope(
        "/tool/roop",
        {"businessTaskId": bid("r"), "sourceUrl": uri(np.full((10, 10, 3), 99, np.uint8)), "targetUrl": face},
    )
    assert tiny["code"] == "400" and "sourceUrl" in tiny["msg"]
    no_face = served.client.wait(
        served.client.submit_tool("roop", bid("r"), sourceUrl=face, targetUrl=uri(np.asarray(data.coffee())))
    )
    assert no_face["state"] == "failed" and no_face["status"] == 2
    assert "no face found in targetUrl" in no_face["errorMsg"]
    out_of_range = served.client.wait(
        served.client.submit_tool("face/fusion", bid("f"), sourceUrl=[face], targetUrl=face, faceIdx=[2])
    )
    assert out_of_range["state"] == "failed" and "faceIdx" in out_of_range["errorMsg"]


def test_the_face_tools_are_in_the_openapi_document(served: Served) -> None:
    document = httpx.get(f"{served.server.base_url.split('/AIGCImgOpenServ')[0]}/openapi.json", timeout=30).json()
    paths = document["paths"]
    for code in ("face/detection", "roop", "v2/roop", "face/fusion", "codeformer"):
        assert any(path.endswith(f"/tool/{code}") for path in paths), code
