"""The understanding tools in the real server, over HTTP: prompts/expand answering within its submit
request, the asynchronous interrogate and identifyStyle, "400" for bad fields, and the OpenAPI
documentation of all three."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imgopen.services import build_services
from imgopen.testing.images import astronaut, data_uri, encode
from tests.conftest import Served, SettingsFactory
from tests.tools.understanding import drawings

BASE = "/AIGCImgOpenServ/saas"


@pytest.fixture(scope="module")
def server(make_settings: SettingsFactory, understanding_data: Path) -> Iterator[Served]:
    # The shared data folder: the CLIP tokenizer and the vocabulary embeddings are already cached.
    running = Served(build_services(make_settings(data_dir=understanding_data, models_dir=understanding_data / "none")))
    yield running
    running.stop()


def post(server: Served, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return server.client.envelope(f"/tool/{path}", body)


def test_prompt_expansion_answers_within_the_request(server: Served, bid: Callable[[str], str]) -> None:
    business = bid("expand")
    body = {"businessTaskId": business, "sourcePrompt": "a fox in the snow", "sequencesNum": 3, "seed": 9}
    started = time.monotonic()
    answer = post(server, "prompts/expand", body)
    assert time.monotonic() - started < 60
    assert answer["code"] == "200", answer
    data = answer["data"]
    assert data["status"] == 1 and data["state"] == "success"
    assert data["toolTask"] == "prompts/expand" and data["businessTaskId"] == business and data["taskId"]
    assert data["method"] == "imgopen-vocabulary+minilm" and data["seed"] == 9
    prompts = data["prompts"]
    assert len(prompts) == 3 and len(set(prompts)) == 3
    assert all(p.startswith("a fox in the snow, ") for p in prompts)
    assert all(n <= 75 for n in data["tokens"])
    # The task is recorded: its query gives the same prompts.
    assert server.client.query_tool("prompts/expand", business)["prompts"] == prompts
    # The same body again is the same task, the same prompts.
    assert post(server, "prompts/expand", body)["data"]["prompts"] == prompts


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"sourcePrompt": "a fox", "sequencesNum": 0}, "sequencesNum"),
        ({"sourcePrompt": "a fox", "sequencesNum": 9}, "sequencesNum"),
        ({"sourcePrompt": ""}, "sourcePrompt"),
        ({"sourcePrompt": "   "}, "sourcePrompt"),
        ({}, "sourcePrompt"),
        ({"sourcePrompt": "a fox", "mode": 3}, "mode"),
        ({"sourcePrompt": "a fox", "topP": 0}, "topP"),
        ({"sourcePrompt": "a fox", "minTokens": 50, "maxTokens": 40}, "minTokens"),
        ({"sourcePrompt": "a fox " * 20, "maxTokens": 30}, "maxTokens"),
    ],
)
def test_prompt_expansion_bad_fields_are_400(
    server: Served, bid: Callable[[str], str], fields: dict[str, Any], named: str
) -> None:
    answer = post(server, "prompts/expand", {"businessTaskId": bid("bad"), **fields})
    assert answer["code"] == "400", answer
    assert named in answer["msg"]


def test_interrogate_and_identify_style(server: Served, bid: Callable[[str], str]) -> None:
    described = server.client.wait(
        server.client.submit_tool("interrogate", bid("int"), image=data_uri(encode(astronaut())), model="clip")
    )
    assert described["state"] == "success", described
    assert described["method"] == "offline-analysis"
    assert described["caption"].startswith("a photograph of one person")
    assert described["measurements"]["people"] == 1
    tagged = server.client.wait(
        server.client.submit_tool("interrogate", bid("tags"), image=data_uri(encode(astronaut())), model="deepdanbooru")
    )
    assert "solo" in [t["tag"] for t in tagged["tags"]]
    styled = server.client.wait(
        server.client.submit_tool("identifyStyle", bid("style"), sourceImage=data_uri(encode(drawings.pixel_art())))
    )
    assert styled["style"] == "pixel art" and styled["method"] == "offline-statistics"
    assert styled["styles"][0]["style"] == "pixel art" and len(styled["styles"]) == 10


def test_unknown_interrogate_model_is_400(server: Served, bid: Callable[[str], str]) -> None:
    answer = post(
        server, "interrogate", {"businessTaskId": bid("m"), "image": data_uri(encode(astronaut())), "model": "blip"}
    )
    assert answer["code"] == "400" and "model" in answer["msg"]


def test_openapi_documents_the_three_tools(server: Served) -> None:
    spec = httpx.get(server.base_url + "/openapi.json", trust_env=False).json()
    for code in ("interrogate", "identifyStyle", "prompts/expand"):
        for suffix in ("", "/queryTask", "/cancelTask"):
            assert f"{BASE}/tool/{code}{suffix}" in spec["paths"]
    schemas = spec["components"]["schemas"]
    expand = schemas["PromptsExpandRequest"]["properties"]
    assert expand["sequencesNum"]["maximum"] == 8 and expand["sequencesNum"]["minimum"] == 1
    for name in ("PromptsExpandRequest", "InterrogateRequest", "IdentifyStyleRequest"):
        for field, prop in schemas[name]["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
    assert {"caption", "tags", "method"} <= set(schemas["InterrogateTaskView"]["properties"])
    assert {"prompts", "seed", "method"} <= set(schemas["PromptsExpandTaskView"]["properties"])
