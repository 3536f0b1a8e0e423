"""What a running task's code sees: its inputs, where to put outputs, progress and cancellation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from PIL import Image

from imgopen.config import Settings
from imgopen.media.encode import EXTENSION, OutputFormat, encode_image
from imgopen.media.inputs import ImageInputs
from imgopen.storage.base import Storage

_log = logging.getLogger("imgopen.task")


class _TaskLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes messages with the task id."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"task {self.extra['task_id'] if self.extra else '?'}: {msg}", kwargs


ProgressSink = Callable[[float, dict[str, Any] | None], None]


class StopReason(StrEnum):
    CANCEL = "cancel"  # the user cancelled: the task ends "cancelled"
    SHUTDOWN = "shutdown"  # the server stops: the task goes back to the queue
    LEASE_LOST = "lease_lost"  # another worker took over: this run's outcome is dropped


class StopSignal:
    """Tells a running task to stop at its next step, and why."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: StopReason | None = None
        # Skips of the current image requested so far (see TaskContext.consume_skip).
        self.skips = 0

    def set(self, reason: StopReason) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


class TaskCancelled(Exception):
    """Raised inside a task when it must stop (see StopSignal.reason)."""


class TaskContext:
    def __init__(
        self,
        task_id: str,
        key_id: str,
        settings: Settings,
        inputs: ImageInputs,
        storage: Storage,
        sink: ProgressSink | None = None,
        stop: StopSignal | None = None,
        min_progress_interval: float = 0.25,
    ) -> None:
        self.task_id = task_id
        # The access key the task runs for: its inputs are read on its behalf (see ImageInputs).
        self.key_id = key_id
        self.settings = settings
        self.inputs = inputs
        self.storage = storage
        # One logger for all tasks (getLogger per task id would keep every one forever).
        self.log = _TaskLog(_log, {"task_id": task_id})
        self.stop = stop or StopSignal()
        self.warnings: list[str] = []
        # What made the outputs, written into them (set by the handler that runs the task).
        self.parameters: str | None = None
        self._sink = sink
        self._min_interval = min_progress_interval
        # Quick tasks never write progress: the first report waits one interval after the start.
        self._last_report = time.monotonic()
        self._outputs = 0
        self._written: dict[str, int] = {}  # storage key -> bytes (a rewritten preview counts once)
        self._skips_seen = 0

    # --- inputs ---------------------------------------------------------------------------------
    def image(self, ref: str, what: str, mode: str | None = "RGB") -> Image.Image:
        return self.inputs.load(ref, what, self.key_id, mode)

    # --- outputs --------------------------------------------------------------------------------
    def save_image(
        self,
        image: Image.Image,
        name: str | None = None,
        fmt: OutputFormat = "png",
        parameters: str | None = None,
        quality: int = 92,
    ) -> str:
        """Store an output image; its storage key (a FileKey for results). `parameters` (default:
        the task's own, see `parameters`) ride in the PNG text chunk or the EXIF comment."""
        self._outputs += 1
        stem = name or f"image-{self._outputs}"
        key = f"outputs/{self.task_id}/{stem}.{EXTENSION[fmt]}"
        text = parameters if parameters is not None else self.parameters
        return self._put(key, encode_image(image, fmt, text, quality))

    def save_bytes(self, data: bytes, filename: str) -> str:
        return self._put(f"outputs/{self.task_id}/{filename}", data)

    def _put(self, key: str, data: bytes) -> str:
        self._written[key] = len(data)
        return self.storage.put(key, data)

    @property
    def stored_bytes(self) -> int:
        """What this run has written to storage (its key's storage quota counts it)."""
        return sum(self._written.values())

    # --- progress and cancellation --------------------------------------------------------------
    def check_cancelled(self) -> None:
        if self.stop.is_set():
            raise TaskCancelled()

    def consume_skip(self) -> bool:
        """True once for each skip the caller requested (A1111's skip): the generation ends its
        current image as it stands and goes on with the next."""
        if self.stop.skips > self._skips_seen:
            self._skips_seen = self.stop.skips
            return True
        return False

    def progress(self, fraction: float, info: dict[str, Any] | None = None, force: bool = False) -> None:
        """Report progress (0..1); raises TaskCancelled when the task should stop."""
        self.check_cancelled()
        if self._sink is None:
            return
        now = time.monotonic()
        if force or now - self._last_report >= self._min_interval:
            self._last_report = now
            self._sink(fraction, info)

    def warn(self, message: str) -> None:
        self.log.warning(message)
        self.warnings.append(message)
