"""Every router of the A1111 face, for the app to include."""

from __future__ import annotations

from fastapi import APIRouter

from imgopen.api.a1111 import controlnet, extras, jobs, lists


def a1111_routers() -> list[APIRouter]:
    return [jobs.router, lists.router, extras.router, controlnet.router]
