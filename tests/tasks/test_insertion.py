"""A tool's task handed to its reserved worker while its row is inserted (tasks/insertion.py): the
work starts before the row exists and ends after it; a refused insert stops the run and drops all
it made. Over real HTTP, on a database of its own (no other test's task may keep the worker busy)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imgopen.client import ApiError
from imgopen.services import build_services
from imgopen.tasks.inprocess import InProcessExecutor
from imgopen.tasks.insertion import Insertion
from imgopen.tasks.store import NewTask, PlannedRow
from imgopen.testing.tools import SleepTool
from tests.conftest import Served, SettingsFactory
from tests.tasks.test_lifecycle import wait_for


class _Inserts:
    """The store's submit, watched: the planned task ids, and a check run before each insert."""

    def __init__(self, served: Served) -> None:
        self.store = served.services.tasks
        self.planned: list[str] = []
        self.before: Callable[[PlannedRow], None] = lambda _planned: None
        self._submit = self.store.submit

    def __call__(self, new: NewTask, max_active: int | None = None, planned: PlannedRow | None = None) -> Any:
        if planned is not None:
            self.planned.append(planned.task.id)
            self.before(planned)
        return self._submit(new, max_active, planned)


@pytest.fixture(scope="module")
def one_worker(make_settings: SettingsFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    database = tmp_path_factory.mktemp("insertion") / "own.db"
    settings = make_settings(cpu_workers=1, gpu_workers=0, database_url=f"sqlite:///{database}")
    served = Served(build_services(settings, extra_tools=[SleepTool()]))
    yield served
    served.stop()


@pytest.fixture
def inserts(one_worker: Served) -> Iterator[_Inserts]:
    watched = _Inserts(one_worker)
    one_worker.services.tasks.submit = watched  # type: ignore[method-assign]
    try:
        yield watched
    finally:
        del one_worker.services.tasks.submit  # the class's method again
        _idle(one_worker)


def _idle(served: Served, timeout: float = 10.0) -> None:
    executor = served.services.executor
    assert isinstance(executor, InProcessExecutor)
    wait_for(lambda: executor.idle_threads()["cpu"] == 1, timeout)


def _succeeds(served: Served, business: str) -> bool:
    handle = served.client.submit_tool("test/sleep", business, steps=1, stepSeconds=0)
    return bool(served.client.wait(handle, timeout=10)["state"] == "success")


def _note(served: Served, task_id: str) -> bool:
    return served.services.storage.exists(f"outputs/{task_id}/note.txt")


def test_the_work_starts_before_the_row_exists_and_ends_after_it(
    one_worker: Served, inserts: _Inserts, bid: Callable[[str], str]
) -> None:
    seen: dict[str, bool] = {}

    def before(planned: PlannedRow) -> None:
        # The worker has the task already: its output appears while there is no row.
        wait_for(lambda: _note(one_worker, planned.task.id), timeout=5)
        seen["no row"] = one_worker.services.tasks.get(planned.task.id) is None

    inserts.before = before
    _idle(one_worker)
    handle = one_worker.client.submit_tool("test/sleep", bid("early"), steps=1, stepSeconds=0, note="hello")
    assert inserts.planned == [handle.task_id] and seen == {"no row": True}
    done = one_worker.client.wait(handle, timeout=10)
    assert (done["state"], done["attempts"], done["progress"]) == ("success", 1, 1)
    task = one_worker.services.tasks.get(handle.task_id)
    assert task is not None and task.state == "success" and task.lease_owner is None
    assert one_worker.services.storage.get(f"outputs/{handle.task_id}/note.txt") == b"hello"


@pytest.mark.parametrize("second_body", ["another body (409)", "the same body (a resubmit)"])
def test_a_refused_insert_drops_what_the_run_made(
    one_worker: Served, inserts: _Inserts, bid: Callable[[str], str], second_body: str
) -> None:
    client, business = one_worker.client, bid("twice")
    first = client.wait(client.submit_tool("test/sleep", business, steps=1, stepSeconds=0, note="first"), timeout=10)
    assert first["state"] == "success"
    _idle(one_worker)
    # The second submit's run has made its output before its insert is refused.
    inserts.before = lambda planned: wait_for(lambda: _note(one_worker, planned.task.id), timeout=5)
    note = "second" if second_body.startswith("another") else "first"
    try:
        again = client.submit_tool("test/sleep", business, steps=1, stepSeconds=0, note=note)
    except ApiError as exc:
        assert exc.code == "409" and note == "second"
    else:
        assert note == "first" and again.task_id == first["taskId"]
    dropped = inserts.planned[-1]
    assert dropped != first["taskId"]
    _idle(one_worker)
    assert not _note(one_worker, dropped) and one_worker.services.tasks.get(dropped) is None
    assert one_worker.services.storage.get(f"outputs/{first['taskId']}/note.txt") == b"first"
    assert client.query_tool("test/sleep", business)["finishedAt"] == first["finishedAt"]


def test_a_refused_insert_stops_a_long_run_at_its_first_progress_report(
    one_worker: Served, inserts: _Inserts, bid: Callable[[str], str]
) -> None:
    client, business = one_worker.client, bid("long")
    assert (
        client.wait(client.submit_tool("test/sleep", business, steps=1, stepSeconds=0), timeout=10)["state"]
        == "success"
    )
    _idle(one_worker)
    inserts.before = lambda _planned: time.sleep(0.1)  # the run is under way when the insert is refused
    with pytest.raises(ApiError) as refused:
        client.submit_tool("test/sleep", business, steps=1000, stepSeconds=0.01)  # 10 s
    assert refused.value.code == "409"
    started = time.monotonic()
    _idle(one_worker)
    assert time.monotonic() - started < 3
    # The worker takes the next task as before.
    assert (
        client.wait(client.submit_tool("test/sleep", bid("next"), steps=1, stepSeconds=0), timeout=10)["state"]
        == "success"
    )


def test_a_submit_with_its_own_task_id_waits_for_its_row(one_worker: Served, inserts: _Inserts, tmp_path: Path) -> None:
    """A caller's own task id may be another task's: no early run writes under it."""
    from imgopen.api.routes.tools import tool_request_model, tool_submission

    services = one_worker.services
    tool = services.tools.get("test/sleep")
    assert tool is not None
    body = tool_request_model(tool).model_validate({"businessTaskId": "own-id", "steps": 1, "stepSeconds": 0})
    submission = tool_submission(services, one_worker.key_id, tool, body)
    submission.task_id = services.tasks.new_id()
    _idle(one_worker)
    task, created = services.submitter.submit(submission)
    assert created and task.id == submission.task_id and inserts.planned == []
    wait_for(lambda: (row := services.tasks.get(task.id)) is not None and row.state == "success")


def test_an_insertion_never_decided_lets_its_run_go() -> None:
    """A submit that never decides (a bug) must not hold its worker forever: the run gives up."""
    undecided, made, refused = Insertion(), Insertion(), Insertion()
    made.made()
    refused.refused()
    started = time.monotonic()
    assert undecided.wait(0.05) is False and time.monotonic() - started >= 0.05
    assert made.wait(0.05) is True and refused.wait(0.05) is False
    # Whoever waits for the row learns of it only once what was asked for its making is done.
    held: list[str] = []
    later = Insertion()
    later.when_made(lambda: held.append("lease"))
    refused.when_made(lambda: held.append("never"))
    made.when_made(lambda: held.append("at once"))
    assert held == ["at once"]
    later.made()
    assert later.wait(0.05) is True and held == ["at once", "lease"]
    # A run that gave up waiting takes no lease for a row made after.
    given_up = Insertion()
    given_up.when_made(lambda: held.append("too late"))
    assert given_up.wait(0.01) is False
    given_up.made()
    assert held == ["at once", "lease"]


def test_a_cancel_during_an_early_run_wins(one_worker: Served, inserts: _Inserts, bid: Callable[[str], str]) -> None:
    """The run's lease is held from the moment its row exists: a cancel while it runs reaches it at
    once (this quick run reports no progress: nothing else would tell it)."""
    client = one_worker.client
    _idle(one_worker)
    handle = client.submit_tool("test/sleep", bid("cancel"), steps=1, stepSeconds=0.2)
    assert inserts.planned == [handle.task_id]
    assert client.cancel(handle)["state"] == "running"
    done = client.wait(handle, timeout=10)
    assert (done["state"], done["errorMsg"]) == ("cancelled", "cancelled while running")
