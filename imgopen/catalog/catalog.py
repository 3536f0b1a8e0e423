"""The model catalog: what is installed in the models folder, kept up to date without a restart.

A scan walks the kind folders (cheap: directory listings); a file seen before with the same size
and modification time reuses what was learned about it (memory, then the `model_files` table),
so only new or changed files are opened. Their sha256 is computed by a background thread, since
real checkpoints take seconds to hash; lists show `sha256: null` until it is done.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from imgopen.catalog.detect import (
    REAL_CONTEXT_WIDTHS,
    REAL_TEXT_WIDTHS,
    Detection,
    detect_file,
    detect_folder,
    trigger_words,
)
from imgopen.catalog.hashing import sha256_file, sha256_folder, short_hash
from imgopen.catalog.layout import (
    FOLDERS,
    SIDECAR_SUFFIX,
    WEIGHT_SUFFIXES,
    is_diffusers_folder,
    kind_folders,
    preview_for,
)
from imgopen.catalog.tensor_index import ModelFileError, read_diffusers_folder, read_tensor_index
from imgopen.catalog.widths import folder_widths, index_widths
from imgopen.clock import now_ms
from imgopen.db.engine import Database
from imgopen.db.tables import ModelFile
from imgopen.errors import ImgOpenError
from imgopen.tasks.periodic import Periodic

log = logging.getLogger(__name__)
KINDS = tuple(FOLDERS)
_HASH_SUFFIX = re.compile(r"\s*\[[0-9a-fA-F]{8,64}\]\s*$")


@dataclass(frozen=True)
class ModelEntry:
    id: int
    kind: str
    path: Path
    rel_path: str
    name: str  # the file name with its extension, or the folder name: what requests send
    stem: str  # the name without extension: the LoRA / embedding name used in prompts
    is_folder: bool
    size: int
    mtime_ns: int
    base_model: str
    variant: str | None
    details: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    preview: Path | None = None
    trigger_words: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def short_hash(self) -> str | None:
        return short_hash(self.sha256)

    @property
    def sidecar_config(self) -> Path | None:
        """`NAME.config/` beside a single file: the diffusers config to load it with."""
        if self.is_folder:
            return None
        candidate = self.path.with_name(self.stem + SIDECAR_SUFFIX)
        return candidate if candidate.is_dir() else None

    @property
    def title(self) -> str:
        """A1111's checkpoint title: "name [shorthash]"."""
        return f"{self.name} [{self.short_hash}]" if self.short_hash else self.name


def _stem(path: Path, is_folder: bool) -> str:
    return path.name if is_folder else path.name[: -len(path.suffix)]


def _walk(folder: Path) -> Iterable[tuple[Path, bool]]:
    """(path, is_folder) of the model files and diffusers folders under `folder`, recursively;
    a diffusers folder is one model (not entered), a `NAME.config/` folder is a sidecar."""
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if child.name.endswith(SIDECAR_SUFFIX):
                continue
            if is_diffusers_folder(child):
                yield child, True
            else:
                yield from _walk(child)
        elif child.suffix.lower() in WEIGHT_SUFFIXES:
            yield child, False


class ModelCatalog:
    def __init__(self, models_dir: Path, db: Database, rescan_seconds: float = 2.0) -> None:
        self.models_dir = models_dir
        self._db = db
        self._rescan_seconds = rescan_seconds
        self._entries: dict[str, list[ModelEntry]] = {kind: [] for kind in KINDS}
        self._by_path: dict[str, ModelEntry] = {}
        self._scanned_at = 0.0
        self._lock = threading.RLock()
        self._hasher = Periodic("imgopen-hasher", 2.0, self._hash_pending)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._hasher.start()

    def stop(self) -> None:
        self._hasher.stop()

    # --- reading --------------------------------------------------------------------------------
    def entries(self, kind: str) -> list[ModelEntry]:
        self.refresh_if_stale()
        with self._lock:
            return list(self._entries[kind])

    def by_id(self, entry_id: int) -> ModelEntry | None:
        self.refresh_if_stale()
        with self._lock:
            return next((e for e in self._by_path.values() if e.id == entry_id), None)

    def find(self, kind: str, name: str) -> ModelEntry | None:
        """The entry a request names: file name (with or without extension, with or without
        A1111's " [hash]" suffix), path relative to the kind folder, or short hash."""
        wanted = _HASH_SUFFIX.sub("", name.strip())
        hash_match = re.search(r"\[([0-9a-fA-F]{8,64})\]\s*$", name)
        entries = self.entries(kind)
        for entry in entries:
            if wanted in (entry.name, entry.rel_path, entry.stem) or wanted.lower() in (
                entry.name.lower(),
                entry.rel_path.lower(),
                entry.stem.lower(),
            ):
                return entry
        digest = (hash_match.group(1) if hash_match else wanted).lower()
        if re.fullmatch(r"[0-9a-f]{8,64}", digest):
            return next((e for e in entries if e.sha256 and e.sha256.startswith(digest)), None)
        return None

    def require(self, kind: str, name: str, field_name: str) -> ModelEntry:
        """The entry, or "404" naming the field and what is installed."""
        entry = self.find(kind, name)
        if entry is None:
            names = [e.name for e in self.entries(kind)]
            shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "none"
            folder = self.models_dir / FOLDERS[kind][0]
            raise ImgOpenError(
                "404", f"{field_name}: no {kind} named {name!r} (installed: {shown}; put files into {folder})"
            )
        return entry

    def context_widths(self) -> dict[int, str]:
        """Cross-attention widths -> base model: the real ones plus those of installed checkpoints
        (how a LoRA for an unusual, e.g. tiny, checkpoint still finds its base)."""
        widths = dict(REAL_CONTEXT_WIDTHS)
        for entry in self._sd_checkpoints():
            if entry.details.get("context_width"):
                widths.setdefault(int(entry.details["context_width"]), entry.base_model)
        return widths

    def text_widths(self) -> dict[int, str]:
        widths = dict(REAL_TEXT_WIDTHS)
        for entry in self._sd_checkpoints():
            if entry.details.get("text_width"):
                widths.setdefault(int(entry.details["text_width"]), entry.base_model)
        return widths

    def _sd_checkpoints(self) -> list[ModelEntry]:
        """Checkpoints that LoRAs and embeddings of the SD families attach to (Flux's CLIP has
        the same width as SD 1.5's, but SD add-ons are not for it)."""
        return [e for e in self._entries["checkpoint"] if e.base_model in ("SD 1.5", "SD 2.x", "SDXL 1.0")]

    # --- scanning -------------------------------------------------------------------------------
    def refresh_if_stale(self) -> None:
        if time.monotonic() - self._scanned_at >= self._rescan_seconds:
            self.refresh()

    def refresh(self) -> None:
        with self._lock:
            known = self._load_rows()
            seen: dict[str, ModelEntry] = {}
            # Checkpoints first: LoRAs and embeddings are matched to their widths.
            for kind in KINDS:
                found: list[ModelEntry] = []
                for folder in kind_folders(self.models_dir, kind):
                    for path, is_folder in _walk(folder):
                        entry = self._entry(kind, folder, path, is_folder, known)
                        if entry is not None and str(path) not in seen:
                            seen[str(path)] = entry
                            found.append(entry)
                self._entries[kind] = sorted(found, key=lambda e: e.name.lower())
            self._by_path = seen
            self._scanned_at = time.monotonic()

    def _entry(
        self, kind: str, folder: Path, path: Path, is_folder: bool, known: dict[str, ModelFile]
    ) -> ModelEntry | None:
        try:
            stat = path.stat()
            size = _folder_size(path) if is_folder else stat.st_size
            mtime = _folder_mtime(path) if is_folder else stat.st_mtime_ns
        except OSError:
            return None
        cached = self._by_path.get(str(path))
        if cached is not None and (cached.size, cached.mtime_ns) == (size, mtime):
            return replace(cached, preview=preview_for(path))
        row = known.get(str(path))
        if row is not None and (row.size, row.mtime_ns) == (size, mtime) and row.detection:
            info = row.detection
            sha = row.sha256
        else:
            info = self._detect(kind, path, is_folder)
            sha = None
            row = self._store_row(path, kind, size, mtime, info)
        if info.get("kind") != kind:
            # A file in the wrong folder (a LoRA among checkpoints) is skipped and logged, so a
            # request can never load a LoRA as a checkpoint.
            log.warning("%s: found among %s models but it is a %s; skipped", path, kind, info.get("kind"))
            return None
        return ModelEntry(
            id=row.id,
            kind=kind,
            path=path,
            rel_path=str(path.relative_to(folder)),
            name=path.name,
            stem=_stem(path, is_folder),
            is_folder=is_folder,
            size=size,
            mtime_ns=mtime,
            base_model=str(info.get("base_model", "unknown")),
            variant=info.get("variant"),
            details=dict(info.get("details", {})),
            sha256=sha,
            preview=preview_for(path),
            trigger_words=list(info.get("trigger_words", [])),
            metadata=dict(info.get("metadata", {})),
        )

    def _detect(self, kind: str, path: Path, is_folder: bool) -> dict[str, Any]:
        """What the weights say the model is (never the file name)."""
        if kind == "upscaler":
            # Upscaler files (ESRGAN .pth, ONNX...) are identified by the upscaling tools that load them.
            return {"kind": "upscaler", "base_model": "unknown", "details": {}}
        try:
            if is_folder:
                folder = read_diffusers_folder(path)
                detection = detect_folder(folder)
                widths = folder_widths(folder)
                metadata: dict[str, str] = {}
            else:
                index = read_tensor_index(path)
                detection = detect_file(
                    path, kind, context_widths=self.context_widths(), text_widths=self.text_widths(), index=index
                )
                widths = index_widths(index)
                metadata = {k: v for k, v in index.metadata.items() if k.startswith(("ss_", "modelspec."))}
        except (ModelFileError, OSError, ValueError) as exc:
            log.warning("%s: cannot read it as a model: %s", path, exc)
            return {"kind": "unknown", "base_model": "unknown", "details": {"error": str(exc)}}
        return _as_info(detection, widths, metadata)

    # --- the table ------------------------------------------------------------------------------
    def _load_rows(self) -> dict[str, ModelFile]:
        with self._db.read() as session:
            return {row.path: row for row in session.scalars(select(ModelFile)).all()}

    def _store_row(self, path: Path, kind: str, size: int, mtime: int, info: dict[str, Any]) -> ModelFile:
        with self._db.transaction() as session:
            row = session.scalar(select(ModelFile).where(ModelFile.path == str(path)))
            if row is None:
                row = ModelFile(
                    path=str(path), kind=kind, size=size, mtime_ns=mtime, detection=info, updated_at=now_ms()
                )
                session.add(row)
            else:
                row.kind, row.size, row.mtime_ns, row.detection, row.sha256 = kind, size, mtime, info, None
                row.updated_at = now_ms()
            session.flush()
            session.expunge(row)
            return row

    def _hash_pending(self) -> None:
        """Hash the files that have no sha256 yet, one at a time (the tick repeats)."""
        with self._lock:
            pending = [e for e in self._by_path.values() if e.sha256 is None]
        for entry in pending:
            try:
                digest = sha256_folder(entry.path) if entry.is_folder else sha256_file(entry.path)
            except FileNotFoundError:
                continue  # removed since the last scan
            except OSError as exc:
                log.warning("%s: cannot hash: %s", entry.path, exc)
                continue
            with self._db.transaction() as session:
                row = session.scalar(select(ModelFile).where(ModelFile.path == str(entry.path)))
                if row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns):
                    row.sha256 = digest
            with self._lock:
                current = self._by_path.get(str(entry.path))
                if current is not None and current.mtime_ns == entry.mtime_ns:
                    updated = replace(current, sha256=digest)
                    self._by_path[str(entry.path)] = updated
                    kind_list = self._entries[entry.kind]
                    self._entries[entry.kind] = [updated if e.path == entry.path else e for e in kind_list]

    def hash_now(self) -> None:
        """Hash everything still unhashed, in the caller's thread (tests, CLI)."""
        self.refresh_if_stale()
        self._hash_pending()


def _as_info(detection: Detection, widths: dict[str, int], metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": detection.kind,
        "base_model": detection.base_model,
        "variant": detection.variant,
        "details": {**detection.details, **widths},
        "trigger_words": trigger_words(metadata),
        "metadata": metadata,
    }


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _folder_mtime(path: Path) -> int:
    return max((p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()), default=0)
