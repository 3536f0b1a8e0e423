"""Who calls the A1111 face: HTTP Basic with the access key id and secret (what clients of A1111's
--api-auth send), or the Img Open headers; without either, the operator's anonymous key if one is
named (A1111 without --api-auth), else 401."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from imgopen.accounts.keys import KeyAuthError, KeyInfo
from imgopen.api.deps import services_of

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="imgopen"'}


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise HTTPException(401, "malformed Basic credentials", headers=_CHALLENGE) from None
    return user, password


def a1111_key(request: Request) -> KeyInfo:
    services = services_of(request)
    credentials = _basic(request.headers.get("authorization"))
    if credentials is None:
        key_id = request.headers.get("x-request-req-accesskeyid")
        secret = request.headers.get("x-request-req-accesskeysecret")
        credentials = (key_id, secret) if key_id or secret else None  # type: ignore[assignment]
    if credentials is None:
        anonymous = services.settings.a1111_anonymous_key
        if not anonymous:
            raise HTTPException(401, "credentials required: HTTP Basic with the access key id and secret", _CHALLENGE)
        info = services.keys.get(anonymous)
        if info is None or info.disabled:
            raise HTTPException(403, f"the anonymous key {anonymous} is missing or disabled")
        return info
    try:
        return services.keys.verify(*credentials)
    except KeyAuthError as exc:
        raise HTTPException(int(exc.code), exc.msg, headers=_CHALLENGE if exc.code == "401" else None) from exc


A1111Key = Annotated[KeyInfo, Depends(a1111_key)]
