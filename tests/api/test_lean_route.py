"""LeanRoute answers every request as FastAPI's own handler does: the same endpoints served by both
(LeanRoute and the plain OrjsonRoute) give the same status and body for good requests and for each
kind of bad one; and the routes of the real app that should be lean are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from imgopen.api.app import create_app
from imgopen.api.envelope import ok
from imgopen.api.errors import install_error_handlers
from imgopen.api.fast_json import OrjsonRoute
from imgopen.api.lean_route import LeanRoute, _plan
from imgopen.api.route_index import RouteIndex
from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.services import build_services


class Body(BaseModel):
    name: str = Field(min_length=1, max_length=8)
    count: int = Field(1, ge=1, le=4)


async def caller(
    request: Request,
    key: Annotated[str | None, Header(alias="X-Key")] = None,
) -> str:
    if key != "good":
        raise ImgOpenError("401", "bad key")
    return f"{key}@{request.url.path.rsplit('/', 1)[-1]}"


Caller = Annotated[str, Depends(caller)]


def _router(prefix: str, route_class: type[OrjsonRoute]) -> APIRouter:
    router = APIRouter(prefix=prefix, route_class=route_class)

    @router.post("/echo")
    async def echo(body: Body, who: Caller) -> Response:
        if body.name == "boom":
            raise ImgOpenError("409", "boom")
        return ok({"name": body.name, "count": body.count, "who": who})

    @router.post("/item/{item:path}")
    async def item(item: str, request: Request, who: Caller) -> Response:
        return ok({"item": item, "method": request.method, "who": who})

    @router.post("/plain")
    async def plain(who: Caller):  # type: ignore[no-untyped-def]  # no annotation: FastAPI's handler
        return {"who": who}

    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(_router("/lean", LeanRoute))
    app.include_router(_router("/full", OrjsonRoute))
    with TestClient(app) as http:
        yield http


GOOD = {"X-Key": "good", "Content-Type": "application/json"}

CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("/echo", GOOD, b'{"name": "a", "count": 2}'),
    ("/echo", GOOD, b'{"name": "a"}'),
    ("/echo", {**GOOD, "Content-Type": "application/json; charset=utf-8"}, b'{"name": "b"}'),
    ("/echo", {**GOOD, "Content-Type": "application/vnd.api+json"}, b'{"name": "b"}'),
    ("/echo", GOOD, b'{"name": "boom"}'),  # the endpoint's own error
    ("/echo", GOOD, b'{"name": ""}'),  # too short
    ("/echo", GOOD, b'{"name": "a", "count": 9}'),  # over the bound
    ("/echo", GOOD, b'{"count": "many"}'),  # missing and wrong type
    ("/echo", GOOD, b'["name"]'),  # not an object
    ("/echo", GOOD, b'{"name": '),  # not JSON
    ("/echo", GOOD, b'{"name": "a", "count": 2, "count": 5}'),  # a repeated key
    ("/echo", GOOD, b'{"name": "a", "count": 18446744073709551617}'),  # beyond 64 bits
    ("/echo", GOOD, b'{"name": "a", "count": NaN}'),
    ("/echo", GOOD, b'{"name": "a", "count": 2.0}'),
    ("/echo", GOOD, b'{"name": "a", "count": "2"}'),
    ("/echo", GOOD, b'{"name": "\\ud800"}'),  # a lone surrogate
    ("/echo", GOOD, '{"name": "\u00e9t\u00e9"}'.encode()),
    ("/echo", GOOD, b'{"name": "a"} trailing'),
    ("/echo", GOOD, b'\xef\xbb\xbf{"name": "a"}'),  # a byte order mark
    ("/echo", GOOD, b'{"name": "a", "extra": {"deep": [1, 2]}}'),
    ("/echo", GOOD, b""),  # no body
    ("/echo", {"X-Key": "good"}, b'{"name": "a"}'),  # no content type
    ("/echo", {**GOOD, "Content-Type": "text/plain"}, b'{"name": "a"}'),
    ("/echo", {"Content-Type": "application/json"}, b'{"name": "a"}'),  # no key
    ("/echo", {**GOOD, "X-Key": "bad"}, b'{"name": ""}'),  # bad key and bad body
    ("/echo", {**GOOD, "X-Key": "bad"}, b'{"name": '),  # bad key and not JSON
    ("/item/a/b.png", GOOD, b""),
    ("/item/x", {"X-Key": "bad"}, b"{}"),
    ("/plain", GOOD, b""),
]


@pytest.mark.parametrize(("path", "headers", "body"), CASES)
def test_lean_answers_as_fastapi_does(client: TestClient, path: str, headers: dict[str, str], body: bytes) -> None:
    lean = client.post("/lean" + path, content=body, headers=headers)
    full = client.post("/full" + path, content=body, headers=headers)
    assert (lean.status_code, lean.json()) == (full.status_code, full.json())
    assert lean.status_code == 200


def test_the_good_requests_reach_the_endpoint(client: TestClient) -> None:
    answer = client.post("/lean/echo", content=b'{"name": "a", "count": 2}', headers=GOOD).json()
    assert answer == {"code": "200", "msg": "success", "data": {"name": "a", "count": 2, "who": "good@echo"}}
    answer = client.post("/lean/item/a/b.png", headers=GOOD).json()
    assert answer["data"] == {"item": "a/b.png", "method": "POST", "who": "good@b.png"}
    invalid = client.post("/lean/echo", content=b'{"name": "a", "count": 9}', headers=GOOD).json()
    assert invalid["code"] == "400" and invalid["msg"].startswith("count: ")


def test_overridden_dependencies_are_honoured() -> None:
    app = FastAPI()
    app.include_router(_router("/lean", LeanRoute))

    async def stand_in() -> str:
        return "stand-in"

    app.dependency_overrides[caller] = stand_in
    with TestClient(app) as http:
        answer = http.post("/lean/echo", content=b'{"name": "a"}', headers={"Content-Type": "application/json"})
    assert answer.json()["data"]["who"] == "stand-in"


def _routes(app: FastAPI) -> list[Any]:
    found: list[Any] = []
    for route in app.router.routes:
        if isinstance(route, RouteIndex):  # it holds routes listed after it
            continue
        contexts = getattr(route, "effective_route_contexts", None)
        found.extend(context.original_route for context in contexts()) if contexts else found.append(route)
    return found


def test_the_routes_of_the_api_are_lean(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path, models_dir=tmp_path / "models", gpu_workers=0, cpu_workers=0))
    try:
        routes = {route.path: route for route in _routes(create_app(services, start_services=False))}
    finally:
        services.stop()
    base = "/AIGCImgOpenServ/saas"
    hot = [
        "/tool/cnt/preview",
        "/tool/cnt/preview/queryTask",
        "/tool/imgEnlarge/cancelTask",
        "/sd/v2/text2image",
        "/sd/v2/queryTaskInfo",
    ]
    for path in hot:
        route = routes.get(base + path)
        assert isinstance(route, LeanRoute), path
        assert _plan(route) is not None, path
    # The test's own routes too: otherwise the comparison above would compare FastAPI with itself.
    test_app = FastAPI()
    test_app.include_router(_router("/lean", LeanRoute))
    plans = {route.path: _plan(route) for route in _routes(test_app) if isinstance(route, LeanRoute)}
    assert plans["/lean/echo"] is not None and plans["/lean/item/{item:path}"] is not None
    assert plans["/lean/plain"] is None  # answers a dict: FastAPI's handler serialises it
