"""The storage interface; keys are relative paths like "outputs/<taskId>/image-1.png"."""

from __future__ import annotations

import re
from typing import Protocol

from imgopen.errors import ImgOpenError

_KEY = re.compile(r"^(inputs|outputs|previews|models)/[A-Za-z0-9._\-/]{1,400}$")


def check_key(key: str) -> str:
    """Refuse keys that could leave the storage root."""
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key:
        raise ImgOpenError("404", f"no such file: {key}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def url(self, key: str) -> str: ...

    def key_from_url(self, url: str) -> str | None:
        """The key behind one of this storage's own URLs (signature checked), else None."""
        ...
