"""Request ids and per-route metrics, as plain ASGI (cheaper than BaseHTTPMiddleware)."""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imgopen.api.envelope import CODE_HEADER
from imgopen.logs import request_id as current_request
from imgopen.metrics import Metrics

_CODE_HEADER = CODE_HEADER.lower().encode()


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Request ids: this process's random prefix and a count (a uuid4 per request reads the
        # system's random source each time, for ids that only need to tell requests apart).
        self._id_prefix = secrets.token_hex(3)
        self._count = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"{self._id_prefix}{next(self._count) & 0xFFFFFF:06x}"
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request.set(request_id)
        started = time.perf_counter()
        seen: dict[str, Any] = {"code": None}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name.lower() == _CODE_HEADER:
                        seen["code"] = value.decode()
                if seen["code"] is None:
                    seen["code"] = str(message["status"])
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            current_request.reset(token)
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(label, seen["code"] or "500").inc()
            self.metrics.request_seconds.labels(label).observe(time.perf_counter() - started)
