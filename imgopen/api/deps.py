"""Request-scoped access to the services and the caller's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from imgopen.accounts.keys import KeyAuthError, KeyInfo
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices


def get_services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


def current_key(
    request: Request,
    access_key_id: Annotated[
        str | None, Header(alias="X-Request-req-accessKeyId", description="Access key id (from `imgopen keys create`).")
    ] = None,
    access_key_secret: Annotated[
        str | None, Header(alias="X-Request-req-accessKeySecret", description="Access key secret.")
    ] = None,
) -> KeyInfo:
    try:
        return get_services(request).keys.verify(access_key_id, access_key_secret)
    except KeyAuthError as exc:
        raise ImgOpenError(exc.code, exc.msg) from exc


ServicesDep = Annotated[ApiServices, Depends(get_services)]
KeyDep = Annotated[KeyInfo, Depends(current_key)]
