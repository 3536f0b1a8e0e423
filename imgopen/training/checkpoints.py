"""Training checkpoints, written at the end of every epoch, so that a training interrupted by a
restart resumes from its last epoch."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "state.pt"


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    """Tensors, numbers and lists only (loadable with weights_only=True); atomic."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".state-", suffix=".tmp")
    os.close(handle)
    torch.save(state, temporary)
    os.replace(temporary, folder / STATE_FILE)


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
