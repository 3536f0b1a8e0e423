"""Service endpoints: the web studio, liveness, readiness, Prometheus metrics, and the files of local
storage."""

from __future__ import annotations

import mimetypes
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from imgopen.api.deps import ServicesDep
from imgopen.api.lean_route import LeanRoute
from imgopen.clock import now_ms
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices
from imgopen.storage.local import FILES_ROUTE, LocalStorage
from imgopen.tasks.executor import POOLS

router = APIRouter(tags=["service"], route_class=LeanRoute)


STUDIO_DIR = Path(__file__).parent.parent / "static" / "studio"
STUDIO_ROUTE = "/studio/"
# Explicit types: a JS module must arrive as JavaScript whatever the host's mimetypes table says.
_STUDIO_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Revalidate every time (FileResponse sends an ETag): after an upgrade the browser never mixes
# old and new modules.
_NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/", summary="The web studio", response_class=HTMLResponse, include_in_schema=False)
async def studio() -> Response:
    return FileResponse(STUDIO_DIR / "index.html", media_type=_STUDIO_TYPES[".html"], headers=_NO_CACHE)


@router.get(STUDIO_ROUTE + "{name:path}", include_in_schema=False)
async def studio_file(name: str) -> Response:
    """The studio's static files (HTML, CSS, JS modules): plain files, no build step."""
    root = STUDIO_DIR.resolve()
    path = (root / name).resolve()
    media_type = _STUDIO_TYPES.get(path.suffix)
    if media_type is None or not path.is_relative_to(root) or not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    return FileResponse(path, media_type=media_type, headers=_NO_CACHE)


class NotServed(BaseModel):
    detail: str = Field(description="Why the file is not served.")


class Readiness(BaseModel):
    status: str = Field(description='"ok" or "unavailable".')
    checks: dict[str, str] = Field(description='Each check: "ok" or "error: ..." (database, storage, broker, workers).')
    pools: dict[str, dict[str, Any]] = Field(
        description="Per pool: workersAlive, queued, running, oldestQueuedSeconds (the whole cluster)."
    )
    workers: list[str] = Field(description="Names of the workers alive (cluster workers; empty for `serve`).")


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database, storage and workers reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: a check failed."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    def check() -> tuple[dict[str, str], dict[str, Any], list[str]]:
        checks: dict[str, str] = {}
        try:
            with services.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}: {exc}"
        try:
            probe = f"outputs/.readyz-{secrets.token_hex(4)}"
            services.storage.put(probe, b"ok")
            services.storage.delete_prefix(probe)
            checks["storage"] = "ok"
        except Exception as exc:
            checks["storage"] = f"error: {type(exc).__name__}: {exc}"
        try:
            checks.update(services.executor.worker_checks())
            return checks, pool_overview(services), [info.name for info in services.workers.alive()]
        except Exception as exc:
            checks["workers"] = f"error: {type(exc).__name__}: {exc}"
            return checks, {}, []

    checks, pools, workers = await run_in_threadpool(check)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks, "pools": pools, "workers": workers},
        status_code=200 if ready else 503,
    )


def pool_overview(services: ApiServices) -> dict[str, Any]:
    """Per pool, cluster-wide: workers alive, tasks queued and running, age of the oldest queued."""
    alive = services.executor.workers_alive()
    now = now_ms()
    pools: dict[str, Any] = {
        pool: {"workersAlive": alive.get(pool, 0), "queued": 0, "running": 0, "oldestQueuedSeconds": None}
        for pool in POOLS
    }
    for stats in services.tasks.pool_stats():
        row = pools.setdefault(
            stats.pool,
            {"workersAlive": alive.get(stats.pool, 0), "queued": 0, "running": 0, "oldestQueuedSeconds": None},
        )
        row[stats.state] = stats.count
        if stats.state == "queued":
            row["oldestQueuedSeconds"] = round(max(0, now - stats.oldest_ms) / 1000, 1)
    return pools


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text."}},
)
async def metrics(services: ServicesDep) -> Response:
    body = await run_in_threadpool(services.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get(
    FILES_ROUTE + "{key:path}",
    summary="An output file",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "application/octet-stream": {}}},
        403: {"model": NotServed, "description": "Missing, wrong or expired signature."},
        404: {"model": NotServed, "description": "No such file (or not an output)."},
    },
)
async def files(key: str, request: Request, services: ServicesDep) -> Response:
    storage = services.storage
    # Outputs only, and only from local storage (S3 outputs are served by S3, at pre-signed URLs).
    if not key.startswith("outputs/") or not isinstance(storage, LocalStorage):
        return JSONResponse({"detail": "not found"}, status_code=404)
    query = request.query_params
    if not storage.verify(key, query.get("exp"), query.get("sig")):
        return JSONResponse({"detail": "missing, wrong or expired signature"}, status_code=403)
    try:
        path = storage.path(key)
    except ImgOpenError:
        return JSONResponse({"detail": "not found"}, status_code=404)
    if not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
