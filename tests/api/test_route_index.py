"""The RouteIndex picks, for every request it answers, the route FastAPI's own scan would pick, and
leaves everything else to that scan: paths with parameters, a method the path does not take, a
static path that an earlier route takes, overridden dependencies, an application under a root path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.testclient import TestClient
from starlette.routing import Match

from imgopen.api.app import create_app
from imgopen.api.envelope import ok
from imgopen.api.lean_route import LeanRoute
from imgopen.api.route_index import RouteIndex
from imgopen.config import Settings
from imgopen.services import build_services


async def who() -> str:
    return "real"


Who = Annotated[str, Depends(who)]


def _app(root_path: str = "", indexed: bool = True) -> tuple[FastAPI, RouteIndex]:
    first = APIRouter(prefix="/a", route_class=LeanRoute)
    second = APIRouter(prefix="/a", route_class=LeanRoute)

    @first.post("/{name}/shadow")
    async def by_name(name: str) -> Response:
        return ok({"route": "by_name", "name": name})

    @first.post("/static")
    async def static_post(caller: Who) -> Response:
        return ok({"route": "static_post", "who": caller})

    @second.post("/static")  # the same path and method again: the first one wins, as in FastAPI
    async def static_twin() -> Response:
        return ok({"route": "static_twin"})

    @second.get("/static")
    async def static_get() -> Response:
        return ok({"route": "static_get"})

    @second.post("/x/shadow")  # taken by /a/{name}/shadow first: never this one
    async def shadowed() -> Response:
        return ok({"route": "shadowed"})

    app = FastAPI(root_path=root_path)
    in_order = [*app.router.routes, *first.routes, *second.routes]
    for router in (first, second):
        app.include_router(router)
    index = RouteIndex(app, in_order)
    if indexed:
        app.router.routes.insert(0, index)
    return app, index


def _scope(path: str, method: str = "POST", root_path: str = "") -> dict[str, object]:
    return {"type": "http", "path": path, "root_path": root_path, "method": method, "headers": []}


def test_the_index_answers_a_static_path_with_the_route_fastapi_would_pick() -> None:
    app, index = _app()
    match, child = index.matches(_scope("/a/static"))
    assert match is Match.FULL and child["route"].endpoint.__name__ == "static_post"
    match, child = index.matches(_scope("/a/static", "GET"))
    assert match is Match.FULL and child["route"].endpoint.__name__ == "static_get"
    with TestClient(app) as client:
        assert client.post("/a/static").json()["data"] == {"route": "static_post", "who": "real"}
        assert client.get("/a/static").json()["data"] == {"route": "static_get"}
        assert client.post("/a/static?x=1").json()["data"]["route"] == "static_post"


def test_what_the_index_does_not_hold_goes_to_fastapis_scan() -> None:
    index = _app()[1]
    # A path with parameters, and a static path that the parametrised route before it takes.
    assert index.matches(_scope("/a/y/shadow"))[0] is Match.NONE
    assert index.matches(_scope("/a/x/shadow"))[0] is Match.NONE
    # A method the path does not take, and a path nobody has.
    assert index.matches(_scope("/a/static", "DELETE"))[0] is Match.NONE
    assert index.matches(_scope("/nowhere"))[0] is Match.NONE


def test_the_app_answers_as_it_does_without_the_index() -> None:
    requests = [
        ("POST", "/a/static"),
        ("GET", "/a/static"),
        ("HEAD", "/a/static"),
        ("DELETE", "/a/static"),
        ("POST", "/a/static/"),
        ("POST", "/a/x/shadow"),
        ("POST", "/a/y/shadow"),
        ("POST", "/nowhere"),
    ]
    answers = []
    for indexed in (True, False):
        with TestClient(_app(indexed=indexed)[0], follow_redirects=False) as client:
            answers.append(
                [
                    (r.status_code, r.content, r.headers.get("allow"), r.headers.get("location"))
                    for r in (client.request(method, path) for method, path in requests)
                ]
            )
    assert answers[0] == answers[1]
    assert answers[0][5][1] == ok({"route": "by_name", "name": "x"}).body
    assert [status for status, *_ in answers[0]] == [200, 200, 405, 405, 307, 200, 200, 404]


def test_overridden_dependencies_are_served_by_fastapi() -> None:
    app, index = _app()

    async def stand_in() -> str:
        return "stand-in"

    app.dependency_overrides[who] = stand_in
    assert index.matches(_scope("/a/static"))[0] is Match.NONE
    with TestClient(app) as client:
        assert client.post("/a/static").json()["data"]["who"] == "stand-in"


def test_an_app_under_a_root_path() -> None:
    app, index = _app(root_path="/under")
    match, child = index.matches(_scope("/under/a/static", root_path="/under"))
    assert match is Match.FULL and child["route"].endpoint.__name__ == "static_post"
    with TestClient(app, root_path="/under") as client:
        assert client.post("/a/static").json()["data"]["route"] == "static_post"


def test_the_apps_hot_routes_are_in_its_index(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path, models_dir=tmp_path / "models", gpu_workers=0, cpu_workers=0))
    try:
        app = create_app(services, start_services=False)
    finally:
        services.stop()
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    base = "/AIGCImgOpenServ/saas"
    for path in ("/tool/cnt/preview", "/tool/cnt/preview/queryTask", "/sd/v2/text2image", "/sd/v2/queryTaskInfo"):
        match, child = index.matches(_scope(base + path))
        assert match is Match.FULL and child["route"].path == base + path, path
