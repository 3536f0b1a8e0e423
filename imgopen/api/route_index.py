"""A request's route found by its path in one dictionary lookup.

FastAPI (0.165) finds a request's route by asking every route in order, twice (once to match the
included router, once to pick its route), a few microseconds each: about a tenth of a millisecond
per request for a tool halfway through the list, more on a cold cache, and a task takes two
requests. The index sits first among the app's routes and answers for the routes whose path has no
parameters, when exactly that route is the one FastAPI's scan would pick; for anything else (a
path with parameters, a method the path does not take, overridden dependencies, telemetry on) it
matches nothing and the scan goes on as always, so errors and redirects stay FastAPI's.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send


class RouteIndex(BaseRoute):
    def __init__(self, app: FastAPI, routes: Sequence[BaseRoute]) -> None:
        """`routes`: every route of `app`, in the order FastAPI's scan asks them (its included
        routers' routes in their place)."""
        self._app = app
        self._by_path: dict[str, list[APIRoute]] = {}
        for at, route in enumerate(routes):
            if isinstance(route, APIRoute) and "{" not in route.path and not _shadowed(route, routes[:at]):
                self._by_path.setdefault(route.path, []).append(route)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or self._app.dependency_overrides:
            return Match.NONE, {}
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        for route in self._by_path.get(path, ()):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:  # its child scope names the route ("route"): handle() runs it
                return match, child_scope
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: APIRoute = scope["route"]
        await route.handle(scope, receive, send)

    def __repr__(self) -> str:
        return f"RouteIndex({len(self._by_path)} paths)"


def _shadowed(route: APIRoute, earlier: Sequence[BaseRoute]) -> bool:
    """Whether a route before `route` in FastAPI's order takes some request meant for it."""
    for method in route.methods or ():
        scope = {"type": "http", "path": route.path, "root_path": "", "method": method, "headers": []}
        if any(other.matches(scope)[0] is Match.FULL for other in earlier):
            return True
    return False
