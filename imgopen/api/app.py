"""The FastAPI application, made from the services (never from globals)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from imgopen import __version__
from imgopen.api.a1111.routes import a1111_routers
from imgopen.api.envelope import BASE_PATH
from imgopen.api.errors import install_error_handlers
from imgopen.api.middleware import RequestMetrics
from imgopen.api.route_index import RouteIndex
from imgopen.api.routes import service
from imgopen.api.routes.models import build_model_router
from imgopen.api.routes.sd import build_sd_router
from imgopen.api.routes.task_list import build_task_list_router
from imgopen.api.routes.tools import build_tool_router
from imgopen.api.routes.training import build_training_router
from imgopen.roles.api import ApiServices

log = logging.getLogger(__name__)

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

DESCRIPTION = """A self-hosted server for the Img Open image API. Every endpoint under
`/AIGCImgOpenServ/saas` takes POST with a JSON body and answers HTTP 200 with the envelope
`{"code": "200", "msg": "success", "data": ...}`; `code` (a string) carries errors too.
Authenticate with the headers `X-Request-req-accessKeyId` and `X-Request-req-accessKeySecret`."""


def create_app(services: ApiServices, start_services: bool = True) -> FastAPI:
    """The app; with start_services, workers and callbacks run for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_services:
            services.start()
        try:
            yield
        finally:
            if start_services:
                services.stop()

    telemetry_on = os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true"
    app = FastAPI(
        title="imgopen",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks look up the global tracer provider on every request; this
        # server's metrics are Prometheus' (/metrics). FastAPI's own switch still turns them on.
        telemetry=None if telemetry_on else _NO_TELEMETRY,
    )
    app.state.services = services
    install_error_handlers(app)
    routers = [
        service.router,
        build_tool_router(services.tools, BASE_PATH),
        build_sd_router(BASE_PATH),
        build_model_router(BASE_PATH),
        build_training_router(BASE_PATH),
        build_task_list_router(BASE_PATH),
        *(a1111_routers() if services.settings.a1111_api else []),
    ]
    in_order = [*app.router.routes, *(route for router in routers for route in router.routes)]
    for router in routers:
        app.include_router(router)
    if not telemetry_on:
        # First in line; FastAPI's scan finds what it does not hold. (With telemetry on, FastAPI
        # names a request's span after the route its own scan picked.)
        app.router.routes.insert(0, RouteIndex(app, in_order))
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    return app
