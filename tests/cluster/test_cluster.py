"""imgopen as a cluster on real services over loopback: one `imgopen api` process and two `imgopen
worker` processes, PostgreSQL, SeaweedFS for S3, and each broker in turn (RabbitMQ, Redis).

Everything over HTTP or through the services a user would have: tool tasks spread over both workers
with their outputs in the bucket; an SD task with its live preview; cancel of a running task on a
worker; a worker killed mid-task; a training that outlives the broker's delivery timeout."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from imgopen.accounts.keys import KeyStore
from imgopen.client import ApiError, Client, TaskHandle
from imgopen.db.engine import Database
from imgopen.testing.cluster import BROKERS, LocalCluster
from imgopen.testing.http_peers import Peer, running_peer
from imgopen.testing.images import data_uri, decode, encode
from imgopen.testing.seaweed import SeaweedServer
from tests.conftest import PG_URL, Served, postgres_schema

pytestmark = pytest.mark.skipif(PG_URL is None, reason="a cluster needs PostgreSQL: set IMGOPEN_TEST_DATABASE_URL")

WORKERS = ("worker-a", "worker-b")


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with SeaweedServer(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="module")
def callbacks() -> Iterator[Peer]:
    with running_peer() as peer:
        peer.json_replies("/hook", (200, {"code": "200"}))
        yield peer


class Running:
    def __init__(self, cluster: LocalCluster, client: Client, database: Database, broker: str) -> None:
        self.cluster = cluster
        self.client = client
        self.database = database
        self.broker = broker

    def row(self, task_id: str) -> dict[str, Any]:
        """The task row, by the server's id or by the businessTaskId (ids are unique enough here)."""
        from sqlalchemy import text

        query = text("SELECT * FROM tasks WHERE id = :id OR business_task_id = :id")
        with self.database.engine.connect() as connection:
            found = connection.execute(query, {"id": task_id}).mappings().first()
        assert found is not None
        return dict(found)

    def wait_state(self, task_id: str, states: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            row = self.row(task_id)
            if row["state"] in states or time.monotonic() > deadline:
                return row
            time.sleep(0.05)


@pytest.fixture(scope="module", params=list(BROKERS))
def cluster(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tiny_models: Path,
    seaweed: SeaweedServer,
) -> Iterator[Running]:
    broker = str(request.param)
    with postgres_schema() as database_url:
        root = tmp_path_factory.mktemp(f"cluster-{broker}")
        env = {
            **seaweed.env(),
            "IMGOPEN_MODELS_DIR": str(tiny_models),
            "IMGOPEN_LEASE_SECONDS": "3",
            "IMGOPEN_HEARTBEAT_SECONDS": "0.5",
            "IMGOPEN_TORCH_THREADS": "1",
            "IMGOPEN_CPU_WORKERS": "2",
            "IMGOPEN_URL_ALLOWLIST": "127.0.0.1",
            "IMGOPEN_CALLBACK_DELAYS": "0.5,1,2",
            "IMGOPEN_LOG_LEVEL": "info",
        }
        cluster = LocalCluster(root, BROKERS[broker], database_url, env).start()
        try:
            cluster.add_workers({name: ["cpu", "gpu"] for name in WORKERS}, concurrency=2)
            database = Database(database_url)
            created = KeyStore(database).create("cluster test")
            with Client(cluster.base_url, created.id, created.secret) as client:
                yield Running(cluster, client, database, broker)
            database.dispose()
        finally:
            cluster.stop()


def checker(size: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_tool_tasks_spread_over_both_workers_with_outputs_in_the_bucket(
    cluster: Running, seaweed: SeaweedServer
) -> None:
    client = cluster.client
    sources = [checker(8, seed) for seed in range(100)]

    def one(index: int) -> dict[str, Any]:
        handle = client.img_enlarge(f"enlarge-{index}", data_uri(encode(sources[index])), scale=2)
        return client.wait(handle, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(one, range(100)))
    assert [answer["state"] for answer in done] == ["success"] * 100
    s3 = seaweed.client()
    for index in (0, 37, 99):
        url = done[index]["outputImageUrl"]
        assert "X-Amz-Signature=" in url, url  # pre-signed by the S3 server's rules
        image = decode(httpx.get(url, trust_env=False).content)
        expected = sources[index].resize((16, 16), Image.Resampling.LANCZOS)
        assert image.size == (16, 16)
        assert np.abs(np.asarray(image, np.int16) - np.asarray(expected, np.int16)).max() <= 1
        key = f"outputs/{done[index]['taskId']}/image-1.png"
        assert s3.head_object(Bucket="imgopen", Key=key)["ContentLength"] > 0
    # Both workers took part.
    claims = {name: worker.log().count("claimed by") for name, worker in cluster.cluster.workers.items()}
    assert all(count > 0 for count in claims.values()), claims
    # A synchronous tool answers its submit here too: the API process cannot run it, so it goes
    # to a worker (not left queued for the caller).
    expanded = client.expand_prompt("expand-on-a-worker", "a fox in the snow", sequencesNum=2, seed=9)
    assert expanded["state"] == "success" and len(expanded["prompts"]) == 2, expanded
    # A worker may not read another key's file from the bucket either (the owner check is the
    # same in every role).
    other = KeyStore(cluster.database).create("other")
    with Client(cluster.cluster.base_url, other.id, other.secret) as intruder, pytest.raises(ApiError) as refused:
        intruder.img_enlarge("steal", done[0]["outputImageUrl"].split("?")[0], scale=2)
    assert refused.value.code == "404"


def test_an_sd_task_runs_on_a_worker_with_live_previews(cluster: Running) -> None:
    client = cluster.client
    handle = client.text2image(
        "a red cat", steps=30, width=64, height=64, seed=5, sd_model_checkpoint="tiny-sd15", id_task="sd-preview"
    )
    preview_url = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = client.query_sd(handle.business_task_id)
        temporary = answer.get("temporaryImageDto")
        if temporary and temporary.get("currentImageUrl"):
            preview_url = temporary["currentImageUrl"]
            assert 0 < temporary["step"] <= temporary["totalSteps"] == 30
            break
        if answer["state"] in ("success", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert preview_url is not None, "no live preview while running"
    preview = decode(httpx.get(preview_url, trust_env=False).content)
    assert preview.size[0] > 0
    done = client.wait(handle, timeout=180)
    assert done["status"] == 2, done
    image = decode(httpx.get(done["differentialImageRspList"][0]["image_url"], trust_env=False).content)
    assert image.size == (64, 64)
    # The worker that ran it says so: the checkpoint is loaded there now.
    listed = json.loads(
        subprocess.run(
            ["imgopen", "workers", "--json"],
            env={**cluster.cluster.env, "PATH": _venv_path()},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert {row["name"] for row in listed} >= set(WORKERS)
    assert any("tiny-sd15" in row["checkpoints"] for row in listed), listed


def _venv_path() -> str:
    import os
    import sys

    return f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"


def test_cancel_stops_a_running_task_on_a_worker(cluster: Running) -> None:
    client = cluster.client
    handle = client.text2image("a slow cat", steps=150, n_iter=10, width=64, height=64, sd_model_checkpoint="tiny-sd15")
    row = cluster.wait_state(handle.task_id, ("running",))
    assert row["state"] == "running"
    time.sleep(0.5)
    started = time.monotonic()
    answer = client.cancel(handle)
    assert answer["state"] in ("running", "cancelled")
    done = client.wait(handle, timeout=60)
    assert done["state"] == "cancelled", done
    assert time.monotonic() - started < 10
    assert cluster.row(handle.task_id)["progress"] < 0.9


def test_readyz_and_metrics_show_the_cluster(cluster: Running) -> None:
    ready = cluster.cluster.readyz()
    assert ready["status"] == "ok", ready
    assert set(ready["workers"]) >= set(WORKERS)
    assert ready["pools"]["cpu"]["workersAlive"] >= 2 and ready["pools"]["gpu"]["workersAlive"] >= 2
    metrics = httpx.get(f"{cluster.cluster.base_url}/metrics", trust_env=False).text
    assert 'imgopen_workers_alive{pool="cpu"}' in metrics


def test_a_training_outlives_the_brokers_delivery_timeout_and_runs_once(
    cluster: Running, callbacks: Peer, tmp_path: Path
) -> None:
    """The broker would deliver an unacknowledged message again (Redis, visibility timeout) or close
    the worker's channel (RabbitMQ, consumer_timeout) after 3 s; the training runs longer."""
    short: dict[str, str] = {"IMGOPEN_REDIS_VISIBILITY_TIMEOUT_SECONDS": "3"}
    saved = {}
    if cluster.broker == "rabbitmq":
        # RabbitMQ reads the tick interval when a channel opens (the trainer's, below) and the
        # timeout at each tick.
        saved = {name: _rabbit_get(name) for name in ("consumer_timeout", "channel_tick_interval")}
        _rabbit_set({"consumer_timeout": 3000, "channel_tick_interval": 1000})
    try:
        trainer = cluster.cluster.add_worker("trainer", ["train"], env=short)
        images = [data_uri(encode(checker(64, seed))) for seed in range(4)]
        started = time.monotonic()
        handle = cluster.client.train_lora(
            f"train-{cluster.broker}",
            images,
            pretrainedModel="tiny-sd15",
            maxEpochs=2,
            repeats=2,
            resolution=64,
            networkDim=4,
            networkAlpha=4,
            outputName=f"cluster-{cluster.broker}",
            callbackUrl=callbacks.base + "/hook",
        )
        done = cluster.client.wait(handle, timeout=300)
        elapsed = time.monotonic() - started
    finally:
        if saved:
            _rabbit_set(saved)
    log = trainer.log()
    assert done["state"] == "success", (done, log[-3000:])
    assert elapsed > 6, f"the training took {elapsed:.1f} s: too short to outlive the 3 s timeout"
    assert cluster.row(handle.task_id)["attempts"] == 1
    # The worker kept its broker connection: no channel closed under it, no reconnection.
    assert "PRECONDITION_FAILED" not in log and "Connection to broker lost" not in log, log[-3000:]
    assert log.count("claimed by") == 1
    assert trainer.running()
    # One callback for the one run.
    time.sleep(1.5)
    hooks = [r for r in callbacks.received if json.loads(r.body)["data"].get("taskId") == handle.business_task_id]
    assert len(hooks) == 1
    # The LoRA is downloadable from the bucket.
    lora = httpx.get(done["loraUrl"], trust_env=False)
    assert lora.status_code == 200 and len(lora.content) > 1000
    trainer.stop()


def _rabbit_get(name: str) -> int:
    answer = subprocess.run(
        ["rabbitmqctl", "eval", f"application:get_env(rabbit, {name})."], check=True, capture_output=True, text=True
    ).stdout
    return int(answer.strip().removeprefix("{ok,").removesuffix("}"))


def _rabbit_set(values: dict[str, int]) -> None:
    """Set RabbitMQ settings at run time (the machine's own broker; restored by the caller)."""
    for name, value in values.items():
        subprocess.run(
            ["rabbitmqctl", "eval", f"application:set_env(rabbit, {name}, {int(value)})."],
            check=True,
            capture_output=True,
        )


def test_a_killed_worker_s_task_ends_once_on_the_other(cluster: Running, callbacks: Peer) -> None:
    client = cluster.client
    handle: TaskHandle = client.text2image(
        "a cat to finish elsewhere",
        steps=50,
        width=64,
        height=64,
        sd_model_checkpoint="tiny-sd15",
        callbackUrl=callbacks.base + "/hook",
        id_task=f"killed-{cluster.broker}",
    )
    row = cluster.wait_state(handle.task_id, ("running",))
    owner = str(row["lease_owner"])
    victim = next(name for name in WORKERS if owner.startswith(name + ":"))
    survivor = next(name for name in WORKERS if name != victim)
    time.sleep(0.5)
    cluster.cluster.workers[victim].kill()
    done = client.wait(handle, timeout=240)
    assert done["status"] == 2, done
    final = cluster.row(handle.task_id)
    assert final["attempts"] == 2
    assert f"task {final['id']}" in cluster.cluster.workers[survivor].log()
    time.sleep(1.5)
    hooks = [r for r in callbacks.received if json.loads(r.body)["data"].get("id_task") == handle.business_task_id]
    assert len(hooks) == 1, hooks


def served_on_the_bucket(
    seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bucket: str | None = None, **settings: Any
) -> Served:
    """A whole server in this process (SQLite) whose storage is an S3 bucket (the server's own by default)."""
    from imgopen.config import Settings
    from imgopen.services import build_services
    from imgopen.testing.server import free_port

    s3_env = seaweed.env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, s3_env[name])
    return Served(
        build_services(
            Settings(
                data_dir=tmp_path,
                models_dir=tmp_path / "models",
                database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                port=free_port(),
                create_first_key=False,
                storage="s3",
                s3_bucket=bucket or seaweed.bucket,
                s3_endpoint_url=seaweed.endpoint,
                s3_path_style=True,
                **settings,
            )
        )
    )


def test_retention_deletes_expired_files_from_the_bucket(
    seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = served_on_the_bucket(
        seaweed, tmp_path, monkeypatch, retention_days=1 / 86_400, retention_check_seconds=3600
    )
    try:
        done = served.client.wait(served.client.img_enlarge("kept-then-gone", data_uri(encode(checker(8, 1))), scale=2))
        url = done["outputImageUrl"]
        assert httpx.get(url, trust_env=False).status_code == 200
        storage = served.services.storage
        key = f"outputs/{done['taskId']}/image-1.png"
        assert storage.exists(key)
        time.sleep(1.1)
        assert served.services.retention.sweep() == 1
        assert not storage.exists(key)
        assert httpx.get(url, trust_env=False).status_code == 404
        answer = served.client.query_tool("imgEnlarge", "kept-then-gone")
        assert answer["filesExpired"] is True and answer["outputImageUrl"] is None
    finally:
        served.stop()


def test_files_no_task_owns_are_deleted_from_the_bucket(
    seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgopen.tasks.orphans import OrphanSweeper

    # A bucket of its own: the module's other tests leave files of tasks that this database lacks.
    bucket = "orphans"
    seaweed.client().create_bucket(Bucket=bucket)
    served = served_on_the_bucket(seaweed, tmp_path, monkeypatch, bucket=bucket)
    try:
        done = served.client.wait(served.client.img_enlarge("owned", data_uri(encode(checker(8, 2))), scale=2))
        storage, db = served.services.storage, served.services.db
        # Not on its own with a bucket (another deployment may share it): IMGOPEN_ORPHAN_SWEEP=on.
        assert not served.services.orphans.enabled
        owned = f"outputs/{done['taskId']}/image-1.png"
        # As a crash leaves them: files under task ids that never got their row.
        left = ["outputs/crashed-1/image-1.png", "inputs/crashed-2/sourceImage.png"]
        for key in left:
            storage.put(key, encode(checker(8, 3)))
        assert OrphanSweeper(db, storage, 3600).sweep() == 0  # written just now: maybe a submit under way
        # Judged as if an hour had passed (S3 keeps its own write times): the orphans go, the task's file stays.
        assert OrphanSweeper(db, storage, 3600, grace_seconds=0).sweep() == 2
        assert not any(storage.exists(key) for key in left)
        assert storage.exists(owned)
        assert httpx.get(done["outputImageUrl"], trust_env=False).status_code == 200
    finally:
        served.stop()
