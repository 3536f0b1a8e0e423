"""The storage interface; keys are relative paths like "outputs/<taskId>/image-1.png"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple, Protocol

from imgopen.errors import ImgOpenError

_KEY = re.compile(r"^(inputs|outputs|previews|models)/[A-Za-z0-9._\-/]{1,400}$")
# The folders of storage that hold one task's files each, under the task's id.
TASK_AREAS = ("inputs", "outputs")
_ID = r"[A-Za-z0-9_\-]{1,64}"
_TASK_ID = re.compile(rf"^{_ID}$")
# Keys that belong to one task, hence to the access key that submitted it.
_TASK_KEY = re.compile(rf"^(?:{'|'.join(TASK_AREAS)})/(?P<task>{_ID})/[^/]")


def check_key(key: str) -> str:
    """Refuse keys that could leave the storage root."""
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key:
        raise ImgOpenError("404", f"no such file: {key}")
    return key


def is_task_id(name: str) -> bool:
    """Whether a folder name under one of TASK_AREAS can be a task's id."""
    return _TASK_ID.match(name) is not None


def task_of_key(key: str) -> str | None:
    """The task whose input or output `key` is; None for keys that belong to no task."""
    match = _TASK_KEY.match(key)
    return match.group("task") if match else None


class OwnFile(NamedTuple):
    """A URL of this storage: the key behind it, and whether it carries a valid signature (a
    signed URL is a capability its owner handed out; an unsigned one proves nothing)."""

    key: str
    signed: bool


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def folders(self, area: str) -> Iterator[str]:
        """The names of the folders right under `area` (one of TASK_AREAS): the tasks with files there."""
        ...

    def written_ms(self, folder: str) -> int | None:
        """When anything under `folder` (e.g. "outputs/<taskId>") was last written, in ms since the
        epoch; None when there is nothing there."""
        ...

    def url(self, key: str) -> str: ...

    def key_from_url(self, url: str) -> OwnFile | None:
        """The key behind one of this storage's own URLs (and whether its signature is valid),
        else None for any other URL."""
        ...
