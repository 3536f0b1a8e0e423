"""A tool's task handed to its worker while the submit still inserts its row.

A submit that has reserved an idle worker of this process hands a tool's task over before the
insert, so the work starts half a millisecond sooner (the insert is one write transaction, and
nothing in the work needs the row). The run writes nothing (no progress, no outcome) and holds no
lease until the insert is decided: made, and the run goes on as any other; refused (409, 429, a
quota, a resubmit answered with its existing task, an error), and the run stops at its first
progress report, or at its end, and its outcome and outputs are dropped.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Insertion:
    def __init__(self) -> None:
        self._decided = threading.Event()
        self._made = False

    def made(self) -> None:
        """The row is committed."""
        self._made = True
        self._decided.set()

    def refused(self) -> None:
        """No row was made for this run."""
        self._decided.set()

    def wait(self, timeout: float) -> bool:
        """Whether the row was made, once the insert is decided; False when it is not decided in
        `timeout` seconds (a submit that never decides is a bug: its run must not wait forever)."""
        if not self._decided.wait(timeout):
            log.error("a task handed over before its insert: the insert was not decided in %.0f s", timeout)
            return False
        return self._made
