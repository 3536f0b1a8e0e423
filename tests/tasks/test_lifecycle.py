"""The task state machine through the API: queue positions, progress, cancel, failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from imgopen.client import TaskHandle
from imgopen.services import build_services
from imgopen.testing.tools import SleepTool
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def one_worker(make_settings: SettingsFactory) -> Iterator[Served]:
    services = build_services(make_settings(cpu_workers=1, gpu_workers=0, lease_seconds=1.0), extra_tools=[SleepTool()])
    running = Served(services)
    yield running
    running.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def sleep_task(served: Served, business_id: str, **params: object) -> TaskHandle:
    return served.client.submit_tool("test/sleep", business_id, **params)


def test_queue_positions_progress_and_cancel(one_worker: Served, bid: Callable[..., str]) -> None:
    client = one_worker.client
    first = sleep_task(one_worker, bid("a"), steps=400, stepSeconds=0.02)
    wait_for(lambda: client.query(first)["state"] == "running")
    second = sleep_task(one_worker, bid("b"), steps=2, stepSeconds=0.01)
    third = sleep_task(one_worker, bid("c"), steps=2, stepSeconds=0.01)
    assert client.query(second)["queuePosition"] == 1
    assert client.query(third)["queuePosition"] == 2
    assert client.query(second)["status"] == 0

    wait_for(lambda: client.query(first)["progress"] > 0.05)
    running = client.query(first)
    assert running["state"] == "running" and running["queuePosition"] is None

    dropped = client.cancel(second)
    assert dropped == {"cancelled": True, "state": "cancelled"}
    assert client.query(second)["status"] == 3
    assert client.query(third)["queuePosition"] == 1

    stopping = client.cancel(first)
    assert stopping["cancelled"] is True
    stopped = client.wait(first, timeout=10)
    assert stopped["state"] == "cancelled" and stopped["status"] == 3
    assert stopped["progress"] < 0.5  # it stopped at its next step, long before the end
    assert client.wait(third, timeout=10)["state"] == "success"
    # Cancelling what has ended changes nothing.
    assert client.cancel(third) == {"cancelled": False, "state": "success"}


def test_failures_carry_their_code_and_message(one_worker: Served, bid: Callable[..., str]) -> None:
    client = one_worker.client
    failed = client.wait(sleep_task(one_worker, bid(), steps=1, stepSeconds=0, failCode="503"))
    assert (failed["state"], failed["status"], failed["errorCode"]) == ("failed", 2, "503")
    assert "failed on purpose" in failed["errorMsg"]
    crashed = client.wait(sleep_task(one_worker, bid(), steps=1, stepSeconds=0, crash=True))
    assert crashed["state"] == "failed" and crashed["errorCode"] == "500"
    assert "RuntimeError: a bug" in crashed["errorMsg"]
    # The worker survived both.
    assert client.wait(sleep_task(one_worker, bid(), steps=1, stepSeconds=0))["state"] == "success"


def test_graceful_stop_requeues_the_running_task(make_settings: SettingsFactory, bid: Callable[..., str]) -> None:
    services = build_services(make_settings(cpu_workers=1, gpu_workers=0), extra_tools=[SleepTool()])
    served = Served(services)
    try:
        handle = sleep_task(served, bid(), steps=500, stepSeconds=0.02)
        wait_for(lambda: served.client.query(handle)["state"] == "running")
        services.executor.stop()
        task = services.tasks.get(handle.task_id)
        assert task is not None
        assert (task.state, task.attempts, task.lease_owner) == ("queued", 0, None)
    finally:
        served.stop()
