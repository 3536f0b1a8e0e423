"""File hashes as Automatic1111 shows them: the full sha256 and the 10-hex short form."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 4 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_folder(path: Path) -> str:
    """A diffusers folder's hash: over the relative names and contents of its weight files, so
    it changes when any of them does."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin", ".json")):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()


def short_hash(sha256: str | None) -> str | None:
    """A1111's short hash: the first 10 hex digits of the sha256."""
    return sha256[:10] if sha256 else None
