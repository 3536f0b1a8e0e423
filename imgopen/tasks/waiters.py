"""Long polling: a query may wait for its task to end instead of the client polling in a loop.

Workers of this process announce each finished task (from their threads); a waiting request is
woken at once. Tasks finished by another process are noticed by re-reading the table every
second, so waiting works with any executor.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable


class TaskWaiters:
    def __init__(self) -> None:
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)
        self._lock = threading.Lock()

    def finished(self, task_id: str) -> None:
        """Called from any thread when a task reached a final state."""
        with self._lock:
            waiting = self._waiting.pop(task_id, set())
        for loop, event in waiting:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, task_id: str, timeout: float, ended: Callable[[], bool] = lambda: False) -> None:
        """Return when `task_id` is announced finished or after `timeout` seconds. `ended` is asked
        once the wait is registered: an end announced before that is not waited for."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting[task_id].add(entry)
        try:
            if ended():
                return
            await asyncio.wait_for(entry[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiting = self._waiting.get(task_id)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiting[task_id]
