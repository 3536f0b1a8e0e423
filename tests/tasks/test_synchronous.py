"""A synchronous tool's task (answered within its submit, like prompts/expand): inserted claimed by the
request that runs it, so no claim follows and no idle worker takes it first; a resubmit is answered
with the same task, not run again; a failure is the answer's code. Over real HTTP, on a database of
its own (its worker must see no other test's tasks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from imgopen.services import build_services
from imgopen.tasks.inprocess import InProcessExecutor
from imgopen.tasks.store import NewTask, PlannedRow
from imgopen.testing.tools import SleepNowTool
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def served_now(make_settings: SettingsFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    database = tmp_path_factory.mktemp("synchronous") / "own.db"
    # The idle worker looks for queued tasks every 10 ms: a task inserted queued could be its.
    settings = make_settings(cpu_workers=1, gpu_workers=0, poll_seconds=0.01, database_url=f"sqlite:///{database}")
    served = Served(build_services(settings, extra_tools=[SleepNowTool()]))
    yield served
    served.stop()


@pytest.fixture
def tool(served_now: Served) -> SleepNowTool:
    found = served_now.services.tools.get("test/sleep-now")
    assert isinstance(found, SleepNowTool)
    found.threads.clear()
    return found


class _Watched:
    """The store's inserts (their lease owners) and claims by id, while a test runs."""

    def __init__(self, served: Served) -> None:
        self.store = served.services.tasks
        self.owners: list[str | None] = []
        self.claims: list[str] = []
        self._submit, self._claim = self.store.submit, self.store.claim

    def submit(self, new: NewTask, max_active: int | None = None, planned: PlannedRow | None = None) -> Any:
        self.owners.append(new.lease_owner)
        return self._submit(new, max_active, planned)

    def claim(self, task_id: str, owner: str, lease_ms: int) -> Any:
        self.claims.append(task_id)
        return self._claim(task_id, owner, lease_ms)


@pytest.fixture
def watched(served_now: Served) -> Iterator[_Watched]:
    watch = _Watched(served_now)
    watch.store.submit = watch.submit  # type: ignore[method-assign]
    watch.store.claim = watch.claim  # type: ignore[method-assign]
    try:
        yield watch
    finally:
        del watch.store.submit, watch.store.claim  # the class's methods again


def _now(served: Served, business: str, **fields: Any) -> dict[str, Any]:
    return served.client.envelope("/tool/test/sleep-now", {"businessTaskId": business, "steps": 1, **fields})


def test_the_request_runs_the_task_it_inserted_claimed(
    served_now: Served, tool: SleepNowTool, watched: _Watched, bid: Callable[[str], str]
) -> None:
    executor = served_now.services.executor
    assert isinstance(executor, InProcessExecutor)
    for index in range(10):
        answer = _now(served_now, bid(f"now{index}"), stepSeconds=0)
        assert answer["code"] == "200", answer
        assert answer["data"]["state"] == "success" and answer["data"]["steps"] == 1
    assert watched.owners == [executor.caller_lease()] * 10
    assert watched.claims == []
    # Every run in a request's thread, none on the idle worker that polls every 10 ms.
    assert len(tool.threads) == 10 and not any(name.startswith("imgopen-cpu") for name in tool.threads)
    row = served_now.services.tasks.get(_now(served_now, bid("row"), stepSeconds=0)["data"]["taskId"])
    assert row is not None and row.attempts == 1 and row.lease_owner is None and row.state == "success"


def test_a_resubmit_is_answered_with_the_task_without_running_it_again(
    served_now: Served, tool: SleepNowTool, bid: Callable[[str], str]
) -> None:
    business = bid("again")
    first = _now(served_now, business, stepSeconds=0.01)
    assert first["code"] == "200" and len(tool.threads) == 1
    again = _now(served_now, business, stepSeconds=0.01)
    assert again["code"] == "200" and again["data"]["taskId"] == first["data"]["taskId"]
    assert len(tool.threads) == 1
    assert _now(served_now, business, stepSeconds=0.02)["code"] == "409"


def test_a_failed_run_is_the_answer(served_now: Served, tool: SleepNowTool, bid: Callable[[str], str]) -> None:
    business = bid("fails")
    answer = _now(served_now, business, stepSeconds=0, failCode="422")
    assert answer["code"] == "422" and "failed on purpose" in answer["msg"]
    query = served_now.client.query_tool("test/sleep-now", business)
    assert query["state"] == "failed" and query["errorCode"] == "422"
