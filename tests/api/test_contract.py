"""The envelope, auth, validation and isolation rules of API.md section 1, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from imgopen.client import ApiError
from imgopen.testing.images import astronaut, data_uri, encode
from tests.conftest import Served

BASE = "/AIGCImgOpenServ/saas"


def post(served: Served, path: str, body: object, key: str | None = None, secret: str | None = None) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["X-Request-req-accessKeyId"] = key
    if secret is not None:
        headers["X-Request-req-accessKeySecret"] = secret
    return httpx.post(served.base_url + BASE + path, json=body, headers=headers, trust_env=False, timeout=30)


@pytest.fixture(scope="module")
def small_png() -> str:
    return data_uri(encode(astronaut().resize((64, 64))))


def test_hosted_docs_example_answers_404_then_401_with_a_wrong_secret(served: Served) -> None:
    body = {"businessTaskId": "100869960120240603"}
    answer = post(served, "/tool/identifyStyle/queryTask", body, served.key_id, served.secret)
    assert answer.status_code == 200
    assert answer.json()["code"] == "404"
    assert answer.json()["data"] is None
    wrong = post(served, "/tool/identifyStyle/queryTask", body, served.key_id, "not-the-secret")
    assert wrong.status_code == 200 and wrong.json()["code"] == "401"
    missing = post(served, "/tool/identifyStyle/queryTask", body)
    assert missing.json()["code"] == "401"
    assert "X-Request-req-accessKeyId" in missing.json()["msg"]


def test_disabled_key_answers_403(served: Served) -> None:
    created = served.services.keys.create("to-disable")
    body = {"businessTaskId": "x"}
    assert post(served, "/tool/imgEnlarge/queryTask", body, created.id, created.secret).json()["code"] == "404"
    served.services.keys.set_disabled(created.id, True)
    answer = post(served, "/tool/imgEnlarge/queryTask", body, created.id, created.secret).json()
    assert answer["code"] == "403"
    assert "disabled" in answer["msg"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"businessTaskId": "v1", "scale": 2}, "sourceImage"),
        ({"businessTaskId": "v2", "sourceImage": "x", "scale": "big"}, "scale"),
        ({"businessTaskId": "v3", "sourceImage": "x", "scale": 9}, "scale"),
        ({"sourceImage": "x", "scale": 2}, "businessTaskId"),
        ({"businessTaskId": "v4", "sourceImage": 12, "scale": 2}, "sourceImage"),
        ({"businessTaskId": "v5", "sourceImage": "x"}, "scale"),
    ],
)
def test_validation_errors_are_400_naming_the_field(served: Served, body: dict[str, object], field: str) -> None:
    answer = post(served, "/tool/imgEnlarge", body, served.key_id, served.secret)
    assert answer.status_code == 200
    envelope = answer.json()
    assert envelope["code"] == "400", envelope
    assert field in envelope["msg"]
    assert envelope["data"] is None


def test_malformed_json_and_wrong_body_type_are_400(served: Served) -> None:
    headers = {
        "X-Request-req-accessKeyId": served.key_id,
        "X-Request-req-accessKeySecret": served.secret,
        "Content-Type": "application/json",
    }
    url = served.base_url + BASE + "/tool/imgEnlarge"
    broken = httpx.post(url, content=b"{not json", headers=headers, trust_env=False)
    assert broken.json()["code"] == "400" and "JSON" in broken.json()["msg"]
    listed = httpx.post(url, content=b"[1, 2]", headers=headers, trust_env=False)
    assert listed.json()["code"] == "400"


def test_unknown_tool_and_unknown_path_are_404(served: Served) -> None:
    assert (
        post(served, "/tool/noSuchTool", {"businessTaskId": "a"}, served.key_id, served.secret).json()["code"] == "404"
    )
    assert (
        post(served, "/tool/no/such/queryTask", {"businessTaskId": "a"}, served.key_id, served.secret).json()["code"]
        == "404"
    )
    wrong_method = httpx.get(served.base_url + BASE + "/tool/imgEnlarge", trust_env=False)
    assert wrong_method.status_code == 200 and wrong_method.json()["code"] == "400"


def test_another_keys_task_is_404_and_idempotency(served: Served, small_png: str, bid: Callable[..., str]) -> None:
    business_id = bid()
    first = served.client.img_enlarge(business_id, small_png, scale=2)
    again = served.client.img_enlarge(business_id, small_png, scale=2)
    assert again.task_id == first.task_id
    with pytest.raises(ApiError) as conflict:
        served.client.img_enlarge(business_id, small_png, scale=3)
    assert conflict.value.code == "409"
    done = served.client.wait(first)
    assert done["state"] == "success"
    other = served.new_client()
    with pytest.raises(ApiError) as hidden:
        other.query_tool("imgEnlarge", business_id)
    assert hidden.value.code == "404"
    with pytest.raises(ApiError) as wrong_tool:
        served.client.query_tool("watermark", business_id)
    assert wrong_tool.value.code == "404"
    # The other key may use the same businessTaskId for its own task.
    mine = other.img_enlarge(business_id, small_png, scale=3)
    assert mine.task_id != first.task_id
    assert other.wait(mine)["width"] == 192


def test_openapi_documents_every_field_with_bounds(served: Served) -> None:
    spec = httpx.get(served.base_url + "/openapi.json", trust_env=False).json()
    schemas = spec["components"]["schemas"]
    enlarge = schemas["ImgEnlargeRequest"]
    assert enlarge["properties"]["scale"]["anyOf"][0]["maximum"] == 8
    assert set(enlarge["required"]) == {"sourceImage", "businessTaskId"}
    for name in ("ImgEnlargeRequest", "WatermarkRequest", "WatermarkDecodeRequest"):
        for field, prop in schemas[name]["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
    paths = spec["paths"]
    for code in ("imgEnlarge", "watermark", "watermark/decode"):
        for suffix in ("", "/queryTask", "/cancelTask"):
            assert f"{BASE}/tool/{code}{suffix}" in paths
    view = schemas["ImgEnlargeTaskView"]["properties"]
    assert {"outputImageUrl", "width", "height", "method", "state", "queuePosition", "errorMsg"} <= set(view)


def test_service_endpoints(served: Served) -> None:
    page = httpx.get(served.base_url + "/", trust_env=False)
    assert page.status_code == 200 and "imgopen studio" in page.text
    module = httpx.get(served.base_url + "/studio/js/main.js", trust_env=False)
    assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript")
    assert httpx.get(served.base_url + "/studio/%2e%2e/%2e%2e/api/app.py", trust_env=False).status_code == 404
    assert httpx.get(served.base_url + "/healthz", trust_env=False).json() == {"status": "ok"}
    ready = httpx.get(served.base_url + "/readyz", trust_env=False)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    metrics = httpx.get(served.base_url + "/metrics", trust_env=False).text
    assert "imgopen_http_requests_total" in metrics
    assert "imgopen_tasks" in metrics


def test_each_answer_has_its_own_request_id_and_is_counted_by_route_and_code(served: Served) -> None:
    answers = [post(served, "/tool/imgEnlarge/queryTask", {"businessTaskId": "no-such"}, served.key_id, served.secret)]
    answers.append(
        post(served, "/tool/imgEnlarge/queryTask", {"businessTaskId": "no-such"}, served.key_id, served.secret)
    )
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert ids[0] != ids[1] and all(len(i) == 12 and int(i, 16) >= 0 for i in ids)
    assert [answer.json()["code"] for answer in answers] == ["404", "404"]
    metrics = httpx.get(served.base_url + "/metrics", trust_env=False).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("imgopen_http_requests_total{")
        and 'code="404"' in line
        and "/tool/imgEnlarge/queryTask" in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 2


def test_a_query_that_waits_for_a_running_task_gets_its_end(served: Served, bid: Callable[..., str]) -> None:
    """The task runs in this server (a worker took it at its insert): a waiting query starts waiting
    without reading its row, and answers with the row as it ended; the other answers are unchanged."""
    business_id = bid()
    picture = data_uri(encode(astronaut()))
    handle = served.client.img_enlarge(business_id, picture, scale=4)
    assert served.services.tasks.running_here(served.key_id, business_id) is not None
    now = served.client.query_tool("imgEnlarge", business_id)  # no wait: the row as it is
    assert now["state"] in ("queued", "running") and now["outputImageUrl"] is None
    with pytest.raises(ApiError) as wrong_tool:  # a waiting query for another tool: 404 at once
        served.client.query_tool("watermark", business_id, wait_seconds=30)
    assert wrong_tool.value.code == "404"
    other = served.new_client()
    with pytest.raises(ApiError) as hidden:
        other.query_tool("imgEnlarge", business_id, wait_seconds=30)
    assert hidden.value.code == "404"
    done = served.client.query_tool("imgEnlarge", business_id, wait_seconds=30)
    assert done["state"] == "success" and done["width"] == 2048 and done["outputImageUrl"]
    assert served.client.wait(handle) == done
