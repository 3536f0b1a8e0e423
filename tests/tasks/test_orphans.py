"""Files that no task owns (a crash between storing a submit's inputs and inserting its row, or
during a run started before its insert) are deleted once they are old; a task's own files never
are, however old. On SQLite and PostgreSQL, and at the start of a real server process."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from imgopen.config import Settings
from imgopen.services import build_services
from imgopen.tasks.orphans import OrphanSweeper
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.testing.server import ServerProcess
from tests.conftest import Served

SMALL = data_uri(encode(astronaut().resize((24, 16))))
PNG = encode(astronaut().resize((8, 8)))
TWO_HOURS = 7200


def age(folder: Path, seconds: float) -> None:
    """Make a folder and everything in it look written `seconds` ago."""
    then = time.time() - seconds
    for path in (*folder.rglob("*"), folder):
        os.utime(path, (then, then))


def plant(root: Path, area: str, seconds_ago: float = 0) -> Path:
    """Files under a task id that has no task, as a crash leaves them."""
    folder = root / area / uuid.uuid4().hex
    folder.mkdir(parents=True)
    (folder / "image-1.png").write_bytes(PNG)
    if seconds_ago:
        age(folder, seconds_ago)
    return folder


def test_old_folders_without_a_task_are_deleted_and_no_task_loses_a_file(
    served: Served, bid: Callable[[str], str]
) -> None:
    client = served.client
    first = client.wait(client.img_enlarge(bid("o"), SMALL, scale=2))
    # An input given by this server's URL is stored under its task: both areas hold task files.
    second = client.wait(client.img_enlarge(bid("o"), first["outputImageUrl"], scale=1.5))
    assert first["state"] == second["state"] == "success", (first, second)
    root = served.services.settings.resolved_storage_dir
    owned = [
        root / "outputs" / first["taskId"],
        root / "outputs" / second["taskId"],
        root / "inputs" / second["taskId"],
    ]
    for folder in owned:
        assert folder.is_dir()
        age(folder, TWO_HOURS)  # only their tasks keep them
    old_output, old_input = plant(root, "outputs", TWO_HOURS), plant(root, "inputs", TWO_HOURS)
    recent = plant(root, "inputs")  # a submit under way: its row comes in a moment
    (root / "outputs" / ".readyz-probe").write_bytes(b"ok")  # not a task's folder

    sweeper = served.services.orphans
    assert sweeper.enabled  # local storage: on by default
    assert sweeper.sweep() == 2
    assert not old_output.exists() and not old_input.exists()
    assert recent.is_dir() and (root / "outputs" / ".readyz-probe").is_file()
    assert all(folder.is_dir() for folder in owned)
    assert httpx.get(second["outputImageUrl"], trust_env=False).status_code == 200
    assert sweeper.sweep() == 0
    # Once it is old too, the one that never got its row goes.
    age(recent, TWO_HOURS)
    assert sweeper.sweep() == 1 and not recent.exists()


def test_a_shorter_grace_time_is_honoured(served: Served) -> None:
    root = served.services.settings.resolved_storage_dir
    minute_old = plant(root, "outputs", 60)
    services = served.services
    assert OrphanSweeper(services.db, services.storage, 3600).sweep() == 0
    assert minute_old.is_dir()
    assert OrphanSweeper(services.db, services.storage, 3600, grace_seconds=30).sweep() == 1
    assert not minute_old.exists()


def test_a_server_deletes_what_a_crash_left_when_it_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    # The database as the crashed server left it (made by the services, as a first start does).
    build_services(settings).stop()
    root = settings.resolved_storage_dir
    left = plant(root, "outputs", TWO_HOURS)
    recent = plant(root, "inputs")
    with ServerProcess(data, {}):
        deadline = time.monotonic() + 30
        while left.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left.exists()
        assert recent.is_dir()
