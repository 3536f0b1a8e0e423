"""ONNX Runtime sessions, one per model file (and again when the file changes), owned by the model
cache and shared by every holder of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imgopen.engine.cache import ModelCache, file_bytes, file_key


def providers() -> list[str]:
    """CUDA when onnxruntime has it, else the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def new_session(path: Path, threads: int = 0) -> Any:
    """A session of its own, for a cache entry that wraps it (an ONNX upscaler)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=providers())


def onnx_session(cache: ModelCache, path: Path, threads: int = 0) -> Any:
    """The file's session in `cache` (its size on disk counts against the budget). Sessions are
    safe to run from several threads: callers keep it for their call only."""
    key = file_key("onnx", path, *([f"threads={threads}"] if threads else []))
    return cache.get(key, lambda: new_session(path, threads), file_bytes(path)).value
