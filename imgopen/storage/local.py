"""Files in a local folder, served by the API under /files/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from imgopen.errors import ImgOpenError
from imgopen.storage.base import OwnFile, check_key
from imgopen.storage.signing import UrlSigner

FILES_ROUTE = "/files/"


class LocalStorage:
    def __init__(self, root: Path, public_base_url: str, signer: UrlSigner | None = None) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._base = public_base_url.rstrip("/")
        self._signer = signer

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> str:
        # Written in place: no one reads a key before the task that writes it has recorded it
        # (inputs before the task row exists, outputs before the task succeeds), and a rerun
        # after a crash overwrites what a killed run left half-written.
        target = self.path(key)
        try:
            handle = target.open("wb")
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = target.open("wb")
        with handle:
            handle.write(data)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ImgOpenError("404", f"no such file: {key}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.is_file():
            target.unlink()

    def folders(self, area: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(self.root / area))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield entry.name

    def written_ms(self, folder: str) -> int | None:
        # The folders count too: one made a moment ago, its first file not yet written, is recent.
        newest: int | None = None
        target = self.path(folder.rstrip("/"))
        for path in (target, *target.rglob("*")):
            try:
                newest = max(newest or 0, path.stat().st_mtime_ns // 1_000_000)
            except FileNotFoundError:  # deleted meanwhile
                continue
        return newest

    def url(self, key: str) -> str:
        url = f"{self._base}{FILES_ROUTE}{check_key(key)}"
        return f"{url}?{self._signer.sign(key)}" if self._signer else url

    def verify(self, key: str, exp: str | None, sig: str | None) -> bool:
        """Whether a request for key may be served (always, when URLs are not signed)."""
        return self._signer is None or self._signer.verify(key, exp, sig)

    def key_from_url(self, url: str) -> OwnFile | None:
        if not url.startswith(self._base + FILES_ROUTE):
            return None
        parts = urlsplit(url)
        key = check_key(parts.path[len(urlsplit(self._base).path) + len(FILES_ROUTE) :])
        if self._signer is None:
            return OwnFile(key, signed=False)
        query = parse_qs(parts.query)
        exp, sig = next(iter(query.get("exp", [])), None), next(iter(query.get("sig", [])), None)
        return OwnFile(key, signed=self._signer.verify(key, exp, sig))
