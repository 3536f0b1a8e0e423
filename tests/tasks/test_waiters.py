"""Long polling's waiters: an end announced before the wait was registered is not waited for."""

from __future__ import annotations

import asyncio
import threading
import time

from imgopen.tasks.waiters import TaskWaiters


def test_a_wait_returns_when_the_task_is_announced_from_another_thread() -> None:
    waiters = TaskWaiters()

    async def main() -> float:
        threading.Timer(0.05, waiters.finished, args=("t1",)).start()
        started = time.monotonic()
        await waiters.wait("t1", 5.0)
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


def test_an_end_told_by_ended_is_not_waited_for() -> None:
    waiters = TaskWaiters()

    async def main() -> float:
        # The end was announced before this wait: no one will announce it again.
        waiters.finished("t2")
        started = time.monotonic()
        await waiters.wait("t2", 5.0, ended=lambda: True)
        return time.monotonic() - started

    assert asyncio.run(main()) < 0.5


def test_without_an_end_the_wait_lasts_its_timeout() -> None:
    waiters = TaskWaiters()

    async def main() -> float:
        started = time.monotonic()
        await waiters.wait("t3", 0.2, ended=lambda: False)
        return time.monotonic() - started

    assert 0.15 < asyncio.run(main()) < 2.0
