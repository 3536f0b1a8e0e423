"""The task state machine through the API: queue positions, progress, cancel, failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imgopen.api.routes.tools import tool_request_model, tool_submission
from imgopen.client import TaskHandle
from imgopen.errors import ImgOpenError
from imgopen.services import build_services
from imgopen.tasks.inprocess import InProcessExecutor
from imgopen.tasks.submit import Submission
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


def test_an_idle_worker_takes_a_task_as_it_is_inserted(
    make_settings: SettingsFactory, tmp_path: Path, bid: Callable[..., str]
) -> None:
    """The submit reserves an idle worker thread and inserts the task already claimed by it (no
    claim transaction after); a submit refused after its reservation gives the thread back."""
    # A database of its own: no other test's queued task may keep the one worker busy.
    settings = make_settings(cpu_workers=1, gpu_workers=0, database_url=f"sqlite:///{tmp_path}/own.db")
    services = build_services(settings, extra_tools=[SleepTool()])
    served = Served(services)
    executor, tool = services.executor, services.tools.get("test/sleep")
    assert isinstance(executor, InProcessExecutor) and tool is not None

    def submission(business: str, steps: int) -> Submission:
        body = tool_request_model(tool).model_validate({"businessTaskId": business, "steps": steps, "stepSeconds": 0})
        return tool_submission(services, served.key_id, tool, body)

    def run(business: str) -> None:
        wait_for(lambda: executor.idle_threads()["cpu"] == 1)
        task, created = services.submitter.submit(submission(business, 1))
        assert created and (task.state, task.attempts) == ("running", 1)
        assert str(task.lease_owner).endswith(":cpu-0")
        assert served.client.wait(TaskHandle("tool", business, task.id, "test/sleep"), timeout=10)["state"] == "success"

    try:
        first = bid("first")
        run(first)
        # Refused (409: the same businessTaskId, another body): the thread reserved for it is given
        # back, and takes the next task as it is inserted.
        with pytest.raises(ImgOpenError) as refused:
            services.submitter.submit(submission(first, 2))
        assert refused.value.code == "409"
        run(bid("second"))
    finally:
        served.stop()


def test_a_worker_reads_the_queue_after_a_task_only_when_a_submit_found_it_busy(
    make_settings: SettingsFactory, tmp_path: Path, bid: Callable[..., str]
) -> None:
    """Tasks handed over at their insert leave nothing queued: the worker goes idle without a
    read of the queue. Tasks submitted while it works are taken as soon as it is free (the idle
    poll is 30 s here: only that read can find them in time)."""
    settings = make_settings(
        cpu_workers=1, gpu_workers=0, poll_seconds=30.0, database_url=f"sqlite:///{tmp_path}/own.db"
    )
    services = build_services(settings, extra_tools=[SleepTool()])
    served = Served(services)
    executor, store = services.executor, services.tasks
    assert isinstance(executor, InProcessExecutor)
    claims: list[int] = []
    claim_next = store.claim_next

    def counted(*args: Any, **kwargs: Any) -> Any:
        claims.append(1)
        return claim_next(*args, **kwargs)

    try:
        wait_for(lambda: executor.idle_threads()["cpu"] == 1)
        store.claim_next = counted  # type: ignore[method-assign]
        for _ in range(3):
            wait_for(lambda: executor.idle_threads()["cpu"] == 1)
            done = served.client.wait(sleep_task(served, bid(), steps=1, stepSeconds=0), timeout=10)
            assert done["state"] == "success"
        wait_for(lambda: executor.idle_threads()["cpu"] == 1)
        assert claims == []
        busy = sleep_task(served, bid("busy"), steps=5, stepSeconds=0.2)
        waiting = [sleep_task(served, bid("queued"), steps=1, stepSeconds=0) for _ in range(2)]
        started = time.monotonic()
        for handle in [busy, *waiting]:
            assert served.client.wait(handle, timeout=20)["state"] == "success"
        assert time.monotonic() - started < 10 and len(claims) >= 2
    finally:
        served.stop()


def test_a_reservation_never_handed_over_frees_its_worker(
    make_settings: SettingsFactory, tmp_path: Path, bid: Callable[..., str]
) -> None:
    """A reserved thread whose submit never hands it a task (a bug) works again after a lease's time."""
    settings = make_settings(
        cpu_workers=1, gpu_workers=0, lease_seconds=1.0, database_url=f"sqlite:///{tmp_path}/own.db"
    )
    services = build_services(settings, extra_tools=[SleepTool()])
    served = Served(services)
    executor = services.executor
    assert isinstance(executor, InProcessExecutor)
    try:
        wait_for(lambda: executor.idle_threads()["cpu"] == 1)
        assert executor.reserve("cpu") is not None  # and never handed over
        assert executor.reserve("cpu") is None  # the only thread is held
        started = time.monotonic()
        done = served.client.wait(sleep_task(served, bid(), steps=1, stepSeconds=0), timeout=10)
        assert done["state"] == "success" and time.monotonic() - started >= 0.5
    finally:
        served.stop()
