"""Request bodies parsed with orjson: a submit with an inline image is half a megabyte of JSON,
which the standard library's parser takes twice as long to read (bench/tools.py)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            # orjson.JSONDecodeError is a json.JSONDecodeError: FastAPI answers it as before.
            self._json = orjson.loads(await self.body())
        return self._json


class OrjsonRoute(APIRoute):
    """A route whose JSON body is read by orjson (`APIRouter(route_class=OrjsonRoute)`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return route
