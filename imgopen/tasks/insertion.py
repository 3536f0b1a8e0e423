"""A tool's task handed to its worker while the submit still inserts its row.

A submit that has reserved an idle worker of this process hands a tool's task over before the
insert, so the work starts half a millisecond sooner (the insert is one write transaction, and
nothing in the work needs the row). The run writes nothing (no progress, no outcome) and holds no
lease until the insert is decided: made, and its lease is held from then on (before the submit
answers, so that a cancel reaches it as any running task) and the run goes on as any other;
refused (409, 429, a quota, a resubmit answered with its existing task, an error), and the run
stops at its first progress report, or at its end, and its outcome and outputs are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Insertion:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decided = threading.Event()
        self._made = False
        self._on_made: Callable[[], None] | None = None

    def made(self) -> None:
        """The row is committed. Called before the submit answers: what `when_made` asked for
        (the run's lease) is in place before the client can name the task."""
        with self._lock:
            self._made = True
            on_made, self._on_made = self._on_made, None
        if on_made is not None:
            on_made()
        self._decided.set()

    def refused(self) -> None:
        """No row was made for this run."""
        with self._lock:
            self._on_made = None
        self._decided.set()

    def when_made(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the row is made (at once if it is; never if it is refused)."""
        with self._lock:
            if not self._made:
                if not self._decided.is_set():
                    self._on_made = callback
                return
        callback()

    def wait(self, timeout: float) -> bool:
        """Whether the row was made, once the insert is decided; False when it is not decided in
        `timeout` seconds (a submit that never decides is a bug: its run must not wait forever)."""
        if self._decided.wait(timeout):
            return self._made
        with self._lock:
            made = self._made
            self._on_made = None  # a row made later is not this run's: its lease expires, it is requeued
        if made:  # made this very moment: its callback is under way, and decided comes right after it
            self._decided.wait()
            return True
        log.error("a task handed over before its insert: the insert was not decided in %.0f s", timeout)
        return False
