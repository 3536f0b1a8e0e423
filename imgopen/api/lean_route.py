"""The API's route class: FastAPI's routing, documentation and errors, with a lean handler for the
common request.

FastAPI's request handler is general (forms, files, streams, yield dependencies, telemetry,
sub-responses...) and costs its price on every request: a third of a millisecond more than a
handler that does only what a route of this API needs (bench/tools.py measures each task's two
requests). Where a route's parameters are simple (a JSON body model, async dependencies that read
only the request and its headers, str path parameters, the Request) and its endpoint is async and
answers a Response, the lean handler reads the body, runs the dependencies, validates the body and
calls the endpoint. Anything it does not expect (a body that is not JSON or not valid, a missing
content type...) goes to FastAPI's own handler with the same request, its body already read, so
that every error is answered exactly as FastAPI answers it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from imgopen.api.fast_json import OrjsonRequest, OrjsonRoute

try:
    # FastAPI (0.165) builds the handler of an included route inside this context: the route as
    # included (the include's dependencies, its dependency overrides) is what the handler serves.
    from fastapi.routing import _effective_route_context_var as _included_route
except ImportError:  # another FastAPI: no lean handlers (see _plan)
    _included_route = None  # type: ignore[assignment]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class _Dependency:
    """An async dependency of the simple kind: the request and header values as keywords."""

    name: str  # the endpoint's parameter
    call: Callable[..., Coroutine[Any, Any, Any]]
    request_param: str | None
    headers: tuple[tuple[str, str], ...]  # (parameter, header name in lower case)


@dataclass(frozen=True)
class _Plan:
    body: Any  # the body parameter's field (FastAPI's ModelField: validates as FastAPI does), or None
    request_param: str | None
    path_params: tuple[str, ...]
    dependencies: tuple[_Dependency, ...]


def _optional_text(annotation: Any) -> bool:
    return annotation in (str, str | None)


def _dependency(sub: Dependant) -> _Dependency | None:
    call = sub.call
    if (
        call is None
        or sub.name is None
        or not inspect.iscoroutinefunction(call)
        or sub.dependencies
        or sub.body_params
        or sub.path_params
        or sub.query_params
        or sub.cookie_params
        or sub.security_scopes_param_name
        or sub.background_tasks_param_name
        or sub.response_param_name
        or sub.websocket_param_name
        or sub.http_connection_param_name
    ):
        return None
    headers = []
    for param in sub.header_params:
        if not _optional_text(param.field_info.annotation) or param.field_info.default is not None:
            return None
        headers.append((param.name, (param.alias or param.name).lower()))
    return _Dependency(sub.name, call, sub.request_param_name, tuple(headers))


def _as_served(route: OrjsonRoute) -> Any:
    """The route as FastAPI's handler for it sees it (as included in its app, where it is); None
    where that cannot be known."""
    if _included_route is None:
        return None
    included = _included_route.get()
    return included if included is not None and included.original_route is route else route


def _answers_a_response(endpoint: Callable[..., Any]) -> bool:
    """Declared to answer a Response (FastAPI turns anything else into one: its handler does)."""
    try:
        answer = get_typed_return_annotation(endpoint)
    except Exception:  # an annotation that does not resolve: FastAPI's handler decides
        return False
    return inspect.isclass(answer) and issubclass(answer, Response)


def _plan(route: OrjsonRoute) -> _Plan | None:
    """How the lean handler serves `route`; None where its parameters are not of the simple kinds."""
    served = _as_served(route)
    dependant = None if served is None else served.dependant
    if (
        dependant is None
        or not inspect.iscoroutinefunction(route.endpoint)
        or not _answers_a_response(route.endpoint)
        or served.response_model is not None
        or served.status_code is not None
        or served._embed_body_fields
        or len(dependant.body_params) > 1
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.security_scopes_param_name
        or dependant.background_tasks_param_name
        or dependant.response_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or any(not _optional_text(param.field_info.annotation) for param in dependant.path_params)
    ):
        return None
    dependencies = []
    for sub in dependant.dependencies:
        dependency = _dependency(sub)
        if dependency is None:
            return None
        dependencies.append(dependency)
    return _Plan(
        body=dependant.body_params[0] if dependant.body_params else None,
        request_param=dependant.request_param_name,
        path_params=tuple(param.name for param in dependant.path_params),
        dependencies=tuple(dependencies),
    )


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class LeanRoute(OrjsonRoute):
    """A route of this API (`APIRouter(route_class=LeanRoute)`); see the module's docstring."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # A request is matched against the routes in order, each by a regular expression behind
        # several calls (FastAPI 0.165): a tenth of a millisecond for a route halfway through the
        # list. A path without parameters matches only paths that end with it (whatever prefix
        # its routers add): the others are told apart by a string comparison.
        if "{" not in self.path and not scope.get("path", "").endswith(self.path):
            return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Handler:
        plan = _plan(self)
        if plan is None:
            return super().get_route_handler()
        # FastAPI's handler, given the OrjsonRequest that has read (and keeps) the body.
        full = APIRoute.get_route_handler(self)
        endpoint = self.endpoint
        overrides = _as_served(self).dependency_overrides_provider

        async def lean(request: Request) -> Response:
            request = OrjsonRequest(request.scope, request.receive)
            if getattr(overrides, "dependency_overrides", None):
                return await full(request)  # overridden dependencies (tests): FastAPI resolves them
            values: dict[str, Any] = {}
            body: Any = None
            if plan.body is not None:
                raw = await request.body()
                if not raw or not _is_json(request.headers.get("content-type")):
                    return await full(request)
                try:
                    body = await request.json()
                except orjson.JSONDecodeError:
                    return await full(request)
            headers = request.headers
            for dependency in plan.dependencies:
                arguments: dict[str, Any] = {name: headers.get(header) for name, header in dependency.headers}
                if dependency.request_param is not None:
                    arguments[dependency.request_param] = request
                values[dependency.name] = await dependency.call(**arguments)
            if plan.body is not None:
                values[plan.body.name], errors = plan.body.validate(body)
                if errors:
                    return await full(request)
            if plan.request_param is not None:
                values[plan.request_param] = request
            path_params = request.path_params
            for name in plan.path_params:
                values[name] = path_params[name]
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: the endpoint answered {type(response).__name__}, not a Response")
            return response

        return lean
