"""ONNX Runtime sessions, created once per model file (and again when the file changes)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


def providers() -> list[str]:
    """CUDA when onnxruntime has it, else the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxSessions:
    def __init__(self, threads: int = 0) -> None:
        self._sessions: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()
        self._threads = threads

    def get(self, path: Path) -> Any:
        import onnxruntime as ort

        key = (str(path), path.stat().st_mtime_ns)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                options = ort.SessionOptions()
                if self._threads:
                    options.intra_op_num_threads = self._threads
                options.log_severity_level = 3
                session = ort.InferenceSession(str(path), sess_options=options, providers=providers())
                self._sessions = {k: v for k, v in self._sessions.items() if k[0] != str(path)}
                self._sessions[key] = session
            return session
