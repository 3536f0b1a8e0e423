"""Quotas per key (tasks and images per day, storage) and retention of files, over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from imgopen.accounts.keys import KeyStore
from imgopen.accounts.quotas import Quota, Quotas
from imgopen.client import ApiError, Client
from imgopen.db.engine import Database
from imgopen.services import build_services
from imgopen.tasks.retention import RetentionSweeper
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.testing.server import ServerProcess
from tests.conftest import PG_URL, Served, SettingsFactory, postgres_schema

SMALL = data_uri(encode(astronaut().resize((24, 16))))


@pytest.fixture(scope="module")
def served(make_settings: SettingsFactory) -> Iterator[Served]:
    running = Served(build_services(make_settings()))
    yield running
    running.stop()


def new_key(served: Served, name: str) -> tuple[str, Client]:
    created = served.services.keys.create(name)
    return created.id, Client(served.base_url, created.id, created.secret)


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_tasks_per_day_quota_answers_403_naming_it_and_spares_other_keys(
    served: Served, bid: Callable[..., str]
) -> None:
    quotas = Quotas(served.services.db)
    key_id, limited = new_key(served, "limited")
    _other_id, other = new_key(served, "unlimited")
    quotas.set(key_id, Quota(tasks_per_day=3))
    first = bid()
    for name in (first, bid(), bid()):
        assert limited.wait(limited.img_enlarge(name, SMALL, scale=2))["state"] == "success"
    # The same businessTaskId and body is the same task: it does not count again.
    assert limited.img_enlarge(first, SMALL, scale=2).business_task_id == first
    error = refused(lambda: limited.img_enlarge(bid(), SMALL, scale=2))
    assert error.code == "403"
    assert "tasks per day" in error.msg and "3 of 3" in error.msg and "resets at" in error.msg
    assert error.msg.rstrip().endswith("T00:00:00Z")
    # Other keys are not affected; the refused submit left no task and no stored input behind.
    assert other.wait(other.img_enlarge(bid(), SMALL, scale=2))["state"] == "success"
    usage = quotas.usage()[key_id]
    assert (usage.tasks_today, usage.images_today) == (3, 3)
    # Raising the quota lets the key go on.
    quotas.set(key_id, Quota(tasks_per_day=4))
    assert limited.wait(limited.img_enlarge(bid(), SMALL, scale=2))["state"] == "success"
    limited.close()
    other.close()


def test_images_per_day_count_what_a_task_asks_for(served: Served, bid: Callable[..., str]) -> None:
    quotas = Quotas(served.services.db)
    key_id, client = new_key(served, "images")
    quotas.set(key_id, Quota(images_per_day=2))
    # A caption makes no image: not counted.
    client.wait(client.submit_tool("identifyStyle", bid(), sourceImage=SMALL))
    for _ in range(2):
        client.wait(client.img_enlarge(bid(), SMALL, scale=2))
    error = refused(lambda: client.img_enlarge(bid(), SMALL, scale=2))
    assert error.code == "403" and "images per day" in error.msg and "2 of 2" in error.msg
    assert quotas.usage()[key_id].images_today == 2
    client.close()


def test_storage_quota_counts_inputs_and_outputs(served: Served, bid: Callable[..., str]) -> None:
    quotas = Quotas(served.services.db)
    key_id, client = new_key(served, "storage")
    done = client.wait(client.img_enlarge(bid(), SMALL, scale=4))
    stored = quotas.usage()[key_id].stored_bytes
    output = served.services.storage.get(f"outputs/{done['taskId']}/image-1.png")
    assert stored == len(output) > 0
    # A fetched input is kept too (an own output URL is stored under the new task).
    again = client.wait(client.img_enlarge(bid(), done["outputImageUrl"], scale=1.5))
    task = served.services.tasks.get(again["taskId"])
    assert task is not None and task.stored_bytes > len(output)
    quotas.set(key_id, Quota(storage_bytes=quotas.usage()[key_id].stored_bytes))
    error = refused(lambda: client.img_enlarge(bid(), SMALL, scale=2))
    assert error.code == "403" and "storage" in error.msg
    client.close()


def test_keys_list_and_quota_commands(served: Served, tmp_path: Path) -> None:
    created = served.services.keys.create("cli")
    env = {**os.environ, "IMGOPEN_DATABASE_URL": served.services.settings.resolved_database_url}
    imgopen = [sys.executable, "-m", "imgopen"]
    set_quota = subprocess.run(
        [*imgopen, "keys", "quota", created.id, "--tasks-per-day", "7", "--storage-gb", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tasks per day 7" in set_quota.stdout and "0.5 GB" in set_quota.stdout
    listed = subprocess.run([*imgopen, "keys", "list", "--json"], env=env, capture_output=True, text=True, check=True)
    row = next(r for r in json.loads(listed.stdout) if r["accessKeyId"] == created.id)
    assert row["quota"] == {"tasksPerDay": 7, "imagesPerDay": None, "storageBytes": 2**29}
    assert row["today"] == {"tasks": 0, "images": 0} and row["storedBytes"] == 0
    cleared = subprocess.run(
        [*imgopen, "keys", "quota", created.id, "--tasks-per-day", "-1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cleared.returncode == 0 and "tasks per day unlimited" in cleared.stdout
    missing = subprocess.run(
        [*imgopen, "keys", "quota", "nope", "--tasks-per-day", "1"], env=env, capture_output=True, check=False
    )
    assert missing.returncode == 1


@pytest.mark.skipif(PG_URL is None, reason="two servers share the count on PostgreSQL")
def test_the_count_is_shared_by_two_server_processes(tmp_path: Path, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL run of this module covers it")
    with postgres_schema() as url:
        env = {"IMGOPEN_DATABASE_URL": url, "IMGOPEN_TORCH_THREADS": "1", "IMGOPEN_GPU_WORKERS": "0"}
        first = ServerProcess(tmp_path / "one", env)
        second = ServerProcess(tmp_path / "two", env)
        first.launch()
        second.launch()
        try:
            for server in (first, second):
                server.wait_until(server._healthy, 120, "imgopen serve")
            database = Database(url)
            created = KeyStore(database).create("shared")
            Quotas(database).set(created.id, Quota(tasks_per_day=4))
            clients = [Client(s.base_url, created.id, created.secret) for s in (first, second)]
            for index in range(4):
                client = clients[index % 2]
                client.img_enlarge(f"shared-{index}", SMALL, scale=2)
            for index, client in enumerate(clients):
                with pytest.raises(ApiError) as over:
                    client.img_enlarge(f"over-{index}", SMALL, scale=2)
                assert over.value.code == "403" and "4 of 4" in over.value.msg
            for client in clients:
                client.close()
            database.dispose()
        finally:
            first.stop()
            second.stop()


def test_retention_deletes_files_and_the_query_says_so(
    make_settings: SettingsFactory, fresh_database_url: str, bid: Callable[..., str]
) -> None:
    # Files expire one second after their task ended; the sweep runs when the test says (a sweep
    # every hour otherwise), so that a slow machine cannot expire them before they are looked at.
    # A database of its own: the sweep counts every task of the database, and the module's other
    # tests leave theirs in the shared one (ended over a second ago on a slow machine).
    settings = make_settings(retention_days=1 / 86_400, retention_check_seconds=3600, database_url=fresh_database_url)
    served = Served(build_services(settings))
    try:
        client = served.client
        done = client.wait(client.img_enlarge(bid(), SMALL, scale=2))
        assert done["state"] == "success", done
        url = done["outputImageUrl"]
        # A fetched (own URL) input is stored under its task and expires with it.
        second = client.wait(client.img_enlarge(bid(), url, scale=1.5))
        assert second["state"] == "success", second
        storage_root = settings.resolved_storage_dir
        assert (storage_root / "outputs" / done["taskId"]).is_dir()
        assert (storage_root / "inputs" / second["taskId"]).is_dir()
        assert httpx.get(url, trust_env=False).status_code == 200
        assert Quotas(served.services.db).usage()[served.key_id].stored_bytes > 0
        time.sleep(1.1)
        assert served.services.retention.sweep() == 2
        assert served.services.retention.sweep() == 0  # once only
        answer = client.query_tool("imgEnlarge", second["businessTaskId"])
        assert answer["filesExpired"] is True and answer["state"] == "success"
        assert answer["outputImageUrl"] is None and answer["outputImageUrls"] == []
        assert (answer["width"], answer["height"]) == (72, 48)  # the rest of the result stays
        assert client.query_tool("imgEnlarge", done["businessTaskId"])["filesExpired"] is True
        assert not (storage_root / "outputs" / done["taskId"]).exists()
        assert not (storage_root / "inputs" / second["taskId"]).exists()
        assert httpx.get(url, trust_env=False).status_code == 404
        assert Quotas(served.services.db).usage()[served.key_id].stored_bytes == 0
        # A task that ended just now keeps its files (judged by an hour's retention: with the
        # test's one second, a loaded machine could take that long to get from the end to the sweep).
        fresh = client.wait(client.img_enlarge(bid(), SMALL, scale=2))
        services = served.services
        assert RetentionSweeper(services.db, services.storage, 1 / 24, 3600).sweep() == 0
        assert client.query_tool("imgEnlarge", fresh["businessTaskId"])["filesExpired"] is False
    finally:
        served.stop()
