"""The envelope of every answer: {"code": "200", "msg": "success", "data": ...} with HTTP 200."""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from fastapi.responses import Response
from pydantic import BaseModel, Field

T = TypeVar("T")
BASE_PATH = "/AIGCImgOpenServ/saas"
CODE_HEADER = "X-ImgOpen-Code"


class Envelope(BaseModel, Generic[T]):
    code: str = Field(description='"200" on success, else an error code of API.md section 1 (a string).')
    msg: str = Field(description='"success", or what went wrong and how to fix it.')
    data: T | None = Field(description="The answer; null on errors.")


def envelope(code: str, msg: str, data: Any = None) -> Response:
    body = json.dumps({"code": code, "msg": msg, "data": data}, ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type="application/json", headers={CODE_HEADER: code})


def ok(data: Any) -> Response:
    return envelope("200", "success", data)


def documented(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the envelope around `model`, for /openapi.json."""
    return {200: {"model": Envelope[model], "description": "The envelope; `code` says the outcome."}}  # type: ignore[valid-type]
