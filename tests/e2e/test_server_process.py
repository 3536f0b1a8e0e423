"""The real `imgopen serve` process, spoken to over HTTP as a user would: the first key, tools end
to end, and a SIGKILL in the middle of work."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from imgopen.client import Client, TaskHandle
from imgopen.testing.http_peers import Peer, running_peer
from imgopen.testing.images import astronaut, data_uri, decode, encode
from imgopen.testing.server import ServerProcess


def cli(data_dir: Path, *args: str, database_url: str | None = None) -> str:
    env = {**os.environ, **({"IMGOPEN_DATABASE_URL": database_url} if database_url else {})}
    done = subprocess.run(
        [sys.executable, "-m", "imgopen", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return done.stdout


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    with running_peer() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[tuple[ServerProcess, Client]]:
    data_dir = tmp_path_factory.mktemp("serve")
    # The key is made by the CLI before the server starts: both read the same settings.
    created = json.loads(cli(data_dir, "keys", "create", "--name", "e2e", "--json", database_url=database_url))
    env = {"IMGOPEN_URL_ALLOWLIST": "localhost", "IMGOPEN_DATABASE_URL": database_url}
    with ServerProcess(data_dir, env) as process:
        client = Client(process.base_url, created["accessKeyId"], created["accessKeySecret"])
        yield process, client
        client.close()


def test_img_enlarge_by_url_and_by_data_uri(
    server: tuple[ServerProcess, Client], peer: Peer, bid: Callable[..., str]
) -> None:
    _process, client = server
    url = peer.file("/photo.jpg", encode(astronaut().resize((120, 80)), "JPEG"), "image/jpeg")
    by_url = client.img_enlarge(bid(), url.replace("127.0.0.1", "localhost"), scale=2.5)
    by_data = client.img_enlarge(bid(), data_uri(encode(astronaut().resize((50, 70)))), target_width=100)
    for handle, size in ((by_url, (300, 200)), (by_data, (100, 140))):
        done = client.wait(handle, timeout=60)
        assert (done["status"], done["state"], done["method"]) == (1, "success", "lanczos")
        assert (done["width"], done["height"]) == size
        image = decode(client.download(done["outputImageUrl"]))
        assert image.size == size and image.format == "PNG"


def test_watermark_round_trip_through_jpeg_85(server: tuple[ServerProcess, Client], bid: Callable[..., str]) -> None:
    _process, client = server
    marked = client.wait(
        client.watermark(bid(), data_uri(encode(astronaut())), text="imgopen", invisible_text="imgopen-42"), 60
    )
    assert marked["state"] == "success" and marked["method"] == "visible-text+dwtDctSvd"
    png = decode(client.download(marked["outputImageUrl"]))
    jpeg = io.BytesIO()
    png.convert("RGB").save(jpeg, "JPEG", quality=85)
    read = client.wait(client.watermark_decode(bid(), data_uri(jpeg.getvalue(), "image/jpeg")), 60)
    assert read["state"] == "success"
    assert (read["found"], read["invisibleText"]) == (True, "imgopen-42")


def test_output_png_carries_no_secret_and_url_is_served(
    server: tuple[ServerProcess, Client], bid: Callable[..., str]
) -> None:
    _process, client = server
    done = client.wait(client.img_enlarge(bid(), data_uri(encode(astronaut().resize((8, 8)))), scale=2), 60)
    assert re.match(r"^http://127\.0\.0\.1:\d+/files/outputs/loc\d{22}/image-1\.png$", done["outputImageUrl"])
    assert done["taskId"].startswith("loc") and len(done["taskId"]) == 25


def slow_enlarge(client: Client, business_id: str) -> TaskHandle:
    # A 2000x2000 photograph to 8000x8000 takes a few seconds here: long enough to be killed.
    big = astronaut().resize((2000, 2000), Image.Resampling.BICUBIC)
    return client.img_enlarge(business_id, data_uri(encode(big, "JPEG", quality=80), "image/jpeg"), scale=4)


def wait_state(client: Client, handle: TaskHandle, state: str, attempts: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (answer := client.query(handle))["state"] != state or answer["attempts"] != attempts:
        assert time.monotonic() < deadline, f"{handle.business_task_id} never became {state}"
        time.sleep(0.05)


def test_sigkill_loses_nothing_and_leaves_nothing_stuck(
    tmp_path: Path, fresh_database_url: str, bid: Callable[..., str]
) -> None:
    # A database of its own: workers of another server on the same table would take these tasks.
    url = fresh_database_url
    created = json.loads(cli(tmp_path, "keys", "create", "--name", "kill", "--json", database_url=url))
    env = {"IMGOPEN_CPU_WORKERS": "1", "IMGOPEN_LEASE_SECONDS": "2", "IMGOPEN_DATABASE_URL": url}
    process = ServerProcess(tmp_path, env).start()
    client = Client(process.base_url, created["accessKeyId"], created["accessKeySecret"])
    try:
        victim = slow_enlarge(client, bid("victim"))
        queued = [slow_enlarge(client, bid("queued")) for _ in range(2)]
        wait_state(client, victim, "running")
        assert all(client.query(handle)["state"] == "queued" for handle in queued)
        process.kill()

        # First restart: the interrupted task runs again (its one retry), the queued ones run.
        process = ServerProcess(tmp_path, env, port=process.port).start()
        wait_state(client, victim, "running", attempts=2)
        process.kill()  # killed again in the middle of its second attempt

        process = ServerProcess(tmp_path, env, port=process.port).start()
        final = {handle.business_task_id: client.wait(handle, timeout=120) for handle in [victim, *queued]}
        failed = final[victim.business_task_id]
        assert failed["state"] == "failed" and failed["status"] == 2
        assert "stopped before it finished" in failed["errorMsg"] and "2 attempts" in failed["errorMsg"]
        for handle in queued:
            done = final[handle.business_task_id]
            assert done["state"] == "success", (done["errorMsg"], done["attempts"])
            assert (done["width"], done["height"]) == (8000, 8000)
    finally:
        client.close()
        process.stop()


def test_first_serve_makes_and_prints_a_key(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, {"IMGOPEN_CREATE_FIRST_KEY": "true"}).start()
    try:
        log = process.log()
        key = re.search(r"X-Request-req-accessKeyId:\s+(\S+)", log)
        secret = re.search(r"X-Request-req-accessKeySecret:\s+(\S+)", log)
        assert key and secret
        with Client(process.base_url, key.group(1), secret.group(1)) as client:
            answer = client.envelope("/tool/identifyStyle/queryTask", {"businessTaskId": "100869960120240603"})
            assert answer["code"] == "404"
        listed = json.loads(cli(tmp_path, "keys", "list", "--json"))
        assert [k["accessKeyId"] for k in listed] == [key.group(1)]
        cli(tmp_path, "keys", "disable", key.group(1))
        time.sleep(5.5)  # the server caches a verified key for 5 s
        with Client(process.base_url, key.group(1), secret.group(1)) as client:
            assert client.envelope("/tool/imgEnlarge/queryTask", {"businessTaskId": "x"})["code"] == "403"
    finally:
        process.stop()
    # A second start with a key present makes none.
    again = ServerProcess(tmp_path, {"IMGOPEN_CREATE_FIRST_KEY": "true"}).start()
    again.stop()
    assert len(json.loads(cli(tmp_path, "keys", "list", "--json"))) == 1
