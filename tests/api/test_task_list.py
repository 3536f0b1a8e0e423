"""POST /tasks/list over real HTTP: the caller's own tasks, newest first, paged, filtered by kind and
state, each row cut from the task's own query answer; another key's tasks are never listed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from imgopen.client import ApiError, Client
from imgopen.db.tables import Task
from imgopen.tasks.store import NewTask
from imgopen.testing.images import data_uri, encode, noise
from tests.conftest import Served

LIST = "/tasks/list"
IMAGE = data_uri(encode(noise(24, 16, seed=3)))


def page(client: Client, **body: object) -> dict[str, object]:
    data: dict[str, object] = client.call(LIST, {"pageSize": 20, "pageNum": 1, **body})
    return data


def rows(client: Client, **body: object) -> list[dict[str, object]]:
    found = page(client, **body)["rows"]
    assert isinstance(found, list)
    return found


def parked(served: Served, kind: str, tool_code: str, business_task_id: str, params: dict[str, object]) -> Task:
    """A task of `kind` straight into the table, in a pool no worker serves: it stays queued, so
    the listing of generations and trainings is tested without model weights."""
    task, _created = served.services.tasks.submit(
        NewTask(
            kind=kind,
            tool_code=tool_code,
            key_id=served.key_id,
            business_task_id=business_task_id,
            pool="parked",
            params=params,
            body_hash="h",
        )
    )
    return task


@dataclass
class Listed:
    ids: dict[str, str]  # what -> businessTaskId
    bob: Client  # another key, with a task of its own


@pytest.fixture(scope="module")
def listed(served: Served) -> Iterator[Listed]:
    """alice (the served key): three enlargements done, a generation queued, a training cancelled;
    bob: one enlargement of his own. Submitted in this order: newest last."""
    client = served.client
    ids: dict[str, str] = {}
    for n in range(3):
        handle = client.img_enlarge(f"list-enlarge-{n}", source_image=IMAGE, scale=2)
        assert client.wait(handle, timeout=60)["state"] == "success"
        ids[f"tool{n}"] = handle.business_task_id
    ids["sd"] = parked(
        served, "sd", "text2image", "list-sd", {"prompt": "a cat", "image_link": IMAGE, "steps": 4}
    ).business_task_id
    training = parked(served, "training", "lora", "list-lora", {"fileUrlList": [IMAGE, "stored:inputs/x/1.png"]})
    served.services.tasks.cancel(training)
    ids["training"] = training.business_task_id
    bob = served.new_client("bob-list")
    handle = bob.img_enlarge("list-bob", source_image=IMAGE, scale=2)
    assert bob.wait(handle, timeout=60)["state"] == "success"
    ids["bob"] = handle.business_task_id
    yield Listed(ids, bob)
    bob.close()


def test_newest_first_and_paged(served: Served, listed: Listed) -> None:
    client = served.client
    everything = page(client, pageSize=100)
    mine = [listed.ids["training"], listed.ids["sd"], listed.ids["tool2"], listed.ids["tool1"], listed.ids["tool0"]]
    assert [row["businessTaskId"] for row in everything["rows"]] == mine  # type: ignore[union-attr]
    assert everything["total"] == 5 and everything["pageSize"] == 100 and everything["pageNum"] == 1
    seen: list[object] = []
    for number in (1, 2, 3):
        paged = page(client, pageSize=2, pageNum=number)
        assert paged["total"] == 5 and paged["pageNum"] == number
        seen += [row["businessTaskId"] for row in paged["rows"]]  # type: ignore[union-attr]
    assert seen == mine
    assert page(client, pageSize=2, pageNum=4)["rows"] == []
    created = [row["createdAt"] for row in everything["rows"]]  # type: ignore[union-attr]
    assert created == sorted(created, reverse=True)


def test_rows_are_the_query_answers_in_short(served: Served, listed: Listed) -> None:
    client = served.client
    tool = next(row for row in rows(client, kind="tool") if row["businessTaskId"] == listed.ids["tool1"])
    answer = client.query_tool("imgEnlarge", listed.ids["tool1"])
    assert tool["kind"] == "tool" and tool["toolCode"] == "imgEnlarge" and tool["taskId"] == answer["taskId"]
    assert tool["state"] == "success" and tool["status"] == 1 and tool["progress"] == 1.0
    assert tool["imageUrls"] == answer["outputImageUrls"] and len(answer["outputImageUrls"]) == 1
    assert tool["finishedAt"] == answer["finishedAt"] and tool["seeds"] is None
    params = tool["params"]
    assert isinstance(params, dict) and params["scale"] == 2
    assert params["sourceImage"] is None  # an inline image is left out of the listing
    assert "businessTaskId" not in params and "callbackUrl" not in params

    (sd,) = rows(client, kind="sd")
    assert sd["businessTaskId"] == listed.ids["sd"] and sd["toolCode"] == "text2image"
    assert sd["state"] == "queued" and sd["status"] == 1 and sd["queuePosition"] == 1
    assert sd["imageUrls"] == [] and sd["seeds"] == []
    assert sd["params"] == {"prompt": "a cat", "image_link": None, "steps": 4}

    (training,) = rows(client, kind="training")
    assert training["businessTaskId"] == listed.ids["training"] and training["toolCode"] == "lora"
    assert training["state"] == "cancelled" and training["status"] == 3
    assert training["params"] == {"fileUrlList": [None, "stored:inputs/x/1.png"]}


def test_filters_by_kind_and_state(served: Served, listed: Listed) -> None:
    client = served.client
    assert {row["kind"] for row in rows(client, kind="tool")} == {"tool"}
    assert page(client, kind="tool")["total"] == 3
    assert [row["businessTaskId"] for row in rows(client, state="queued")] == [listed.ids["sd"]]
    assert [row["businessTaskId"] for row in rows(client, state="cancelled")] == [listed.ids["training"]]
    assert page(client, state="success")["total"] == 3
    assert rows(client, kind="sd", state="success") == []
    assert [row["businessTaskId"] for row in rows(client, kind="training", state="cancelled")] == [
        listed.ids["training"]
    ]


def test_another_keys_tasks_are_never_listed(served: Served, listed: Listed) -> None:
    bob = listed.bob
    his = page(bob, pageSize=100)
    assert [row["businessTaskId"] for row in his["rows"]] == [listed.ids["bob"]]  # type: ignore[union-attr]
    assert his["total"] == 1
    alice_ids = {row["businessTaskId"] for row in rows(served.client, pageSize=100)}
    assert listed.ids["bob"] not in alice_ids
    for kind in ("sd", "training"):
        assert rows(bob, kind=kind) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pageSize": 0, "pageNum": 1}, "pageSize"),
        ({"pageSize": 101, "pageNum": 1}, "pageSize"),
        ({"pageSize": 10, "pageNum": 0}, "pageNum"),
        ({"pageNum": 1}, "pageSize"),
        ({"pageSize": 10, "pageNum": 1, "kind": "video"}, "kind"),
        ({"pageSize": 10, "pageNum": 1, "state": "done"}, "state"),
    ],
)
def test_bad_bodies_answer_400_naming_the_field(served: Served, body: dict[str, object], field: str) -> None:
    answer = served.client.envelope(LIST, body)
    assert answer["code"] == "400" and field in answer["msg"] and answer["data"] is None


def test_a_wrong_key_answers_401(served: Served) -> None:
    with Client(served.base_url, served.key_id, "not-the-secret") as wrong, pytest.raises(ApiError) as refused:
        wrong.call(LIST, {"pageSize": 1, "pageNum": 1})
    assert refused.value.code == "401"
