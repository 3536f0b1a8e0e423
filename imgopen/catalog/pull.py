"""`imgopen models pull`: fetch weights into the right folder, for machines that have internet.
The server itself never downloads anything."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from imgopen.catalog.layout import default_folder

_SKIPPED_IN_SNAPSHOTS = ["*.bin", "*.ckpt", "*.pt", "*.pth", "*.msgpack", "*.h5", "*.onnx", "*.onnx_data", "*.md"]


class PullError(Exception):
    pass


def pull(source: str, kind: str, models_dir: Path, filename: str | None = None, everything: bool = False) -> Path:
    """Download `source` (an http(s) URL, a Hugging Face repo id, or "repo/path/in/repo.safetensors")
    into the kind's folder; the path written."""
    folder = default_folder(models_dir, kind)
    folder.mkdir(parents=True, exist_ok=True)
    if source.startswith(("http://", "https://")):
        return download_url(source, folder, filename)
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise PullError("HF_HUB_OFFLINE is set: unset it to download from the Hugging Face hub")
    parts = source.strip("/").split("/")
    if len(parts) < 2:
        raise PullError(f"{source!r}: give a URL, a repo id (owner/name) or owner/name/path/to/file")
    repo = "/".join(parts[:2])
    inner = "/".join(parts[2:]) or filename
    from huggingface_hub import hf_hub_download, snapshot_download

    if inner:
        return Path(hf_hub_download(repo, inner, local_dir=str(folder)))
    target = folder / parts[1]
    snapshot_download(repo, local_dir=str(target), ignore_patterns=None if everything else _SKIPPED_IN_SNAPSHOTS)
    return target


def download_url(url: str, folder: Path, filename: str | None = None, chunk: int = 1 << 20) -> Path:
    with httpx.stream("GET", url, follow_redirects=True, timeout=httpx.Timeout(30, read=300)) as response:
        if response.status_code >= 400:
            raise PullError(f"{url}: HTTP {response.status_code}")
        name = filename or _name_from(response) or Path(unquote(urlsplit(url).path)).name
        if not name or "/" in name or name.startswith("."):
            raise PullError(f"{url}: no file name; pass --filename")
        target = folder / name
        partial = target.with_name(target.name + ".part")
        with partial.open("wb") as handle:
            for piece in response.iter_bytes(chunk):
                handle.write(piece)
        partial.replace(target)
    return target


def _name_from(response: httpx.Response) -> str | None:
    disposition = response.headers.get("content-disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    return unquote(match.group(1)) if match else None
