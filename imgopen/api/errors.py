"""Every failure becomes an envelope with a code: validation -> "400" naming the field, never 422."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from imgopen.api.envelope import BASE_PATH, envelope
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import path_text

log = logging.getLogger(__name__)


def describe_validation(errors: list[Any]) -> str:
    """'scale: Input should be less than or equal to 8; sourceImage: Field required'."""
    parts = []
    for error in errors[:5]:
        loc = tuple(step for step in error.get("loc", ()) if step != "body")
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            message = f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
            loc = ()
        message = message.removeprefix("Value error, ")
        # Tagged unions and nested validators put type names in the path; keep the field names.
        field = path_text(tuple(step for step in loc if not (isinstance(step, str) and "[" in step)))
        parts.append(f"{field}: {message}" if field else message)
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts)


# Paths of the Automatic1111 face: its own conventions (HTTP statuses, {"detail": ...}).
A1111_PREFIXES = ("/sdapi/", "/controlnet/")
# Img Open codes -> the HTTP statuses A1111 answers with (validation is 422 there).
A1111_STATUS = {
    "400": 422,
    "401": 401,
    "403": 403,
    "404": 404,
    "409": 409,
    "413": 413,
    "422": 422,
    "429": 429,
    "503": 503,
}


def is_a1111(request: Request) -> bool:
    return request.url.path.startswith(A1111_PREFIXES)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if is_a1111(request):
            return JSONResponse({"detail": describe_validation(list(exc.errors()))}, status_code=422)
        return envelope("400", describe_validation(list(exc.errors())))

    @app.exception_handler(ImgOpenError)
    async def _imgopen(request: Request, exc: ImgOpenError) -> Response:
        if is_a1111(request):
            return JSONResponse({"detail": exc.msg}, status_code=A1111_STATUS.get(exc.code, 500))
        return envelope(exc.code, exc.msg)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(BASE_PATH):
            # The exception's headers too: a 405 says which methods are allowed (Allow).
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 405:
            return envelope("400", f"{request.method} is not allowed here: every endpoint takes POST with a JSON body")
        if exc.status_code == 404:
            return envelope("404", f"no such endpoint: {request.method} {request.url.path}")
        return envelope(str(exc.status_code), str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex[:12]
        log.exception("%s %s failed (request id %s)", request.method, request.url.path, request_id)
        message = f"internal error (request id {request_id}); the server log has the details"
        if is_a1111(request):
            return JSONResponse({"detail": message}, status_code=500)
        return envelope("500", message)
