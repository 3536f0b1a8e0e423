"""Service endpoints: liveness, readiness, Prometheus metrics, and the files of local storage."""

from __future__ import annotations

import mimetypes
import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from sqlalchemy import text

from imgopen.api.deps import ServicesDep
from imgopen.errors import ImgOpenError
from imgopen.storage.local import FILES_ROUTE

router = APIRouter(tags=["service"])


_PLAYGROUND = Path(__file__).parent.parent / "static" / "playground.html"


@router.get("/", summary="The web playground", response_class=HTMLResponse, include_in_schema=False)
async def playground() -> HTMLResponse:
    return HTMLResponse(_PLAYGROUND.read_text(encoding="utf-8"))


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, storage and workers reachable")
async def readyz(services: ServicesDep) -> JSONResponse:
    def check() -> dict[str, str]:
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
        alive = services.executor.alive_workers()
        for pool in ("gpu", "cpu"):
            want = services.executor.worker_count(pool)
            checks[f"{pool}_workers"] = (
                "ok" if alive.get(pool, 0) == want else f"error: {alive.get(pool, 0)}/{want} alive"
            )
        return checks

    checks = await run_in_threadpool(check)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(services: ServicesDep) -> Response:
    body = await run_in_threadpool(services.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get(FILES_ROUTE + "{key:path}", summary="An output file", include_in_schema=True)
async def files(key: str, request: Request, services: ServicesDep) -> Response:
    if not key.startswith("outputs/"):
        return JSONResponse({"detail": "not found"}, status_code=404)
    query = request.query_params
    if not services.storage.verify(key, query.get("exp"), query.get("sig")):
        return JSONResponse({"detail": "missing, wrong or expired signature"}, status_code=403)
    try:
        path = services.storage.path(key)
    except ImgOpenError:
        return JSONResponse({"detail": "not found"}, status_code=404)
    if not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
