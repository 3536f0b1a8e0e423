"""Request-scoped access to the services and the caller's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from imgopen.accounts.keys import KeyAuthError, KeyInfo
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices


# Both are async: FastAPI runs a plain-def dependency in its thread pool, a hop that cost each
# request about a millisecond of the API's overhead (bench/tools.py). Only a key not verified in the
# last seconds goes to the database, in the thread pool.
def services_of(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


async def get_services(request: Request) -> ApiServices:
    return services_of(request)


async def current_key(
    request: Request,
    access_key_id: Annotated[
        str | None, Header(alias="X-Request-req-accessKeyId", description="Access key id (from `imgopen keys create`).")
    ] = None,
    access_key_secret: Annotated[
        str | None, Header(alias="X-Request-req-accessKeySecret", description="Access key secret.")
    ] = None,
) -> KeyInfo:
    keys = services_of(request).keys
    try:
        known = keys.verify_cached(access_key_id, access_key_secret)
        if known is not None:
            return known
        return await run_in_threadpool(keys.verify, access_key_id, access_key_secret)
    except KeyAuthError as exc:
        raise ImgOpenError(exc.code, exc.msg) from exc


ServicesDep = Annotated[ApiServices, Depends(get_services)]
KeyDep = Annotated[KeyInfo, Depends(current_key)]
