"""One key never reads another's files: `stored:` values, this server's URLs, the files route,
and every request field that names a file or a model. Each hole answers "404" (or "400" for a
name that is not a valid choice), over real HTTP against a running server."""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from imgopen.client import ApiError, Client
from imgopen.errors import ImgOpenError
from imgopen.services import build_services
from imgopen.tasks.context import TaskContext
from imgopen.testing.images import astronaut, data_uri, decode, encode
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def server(make_settings: SettingsFactory, tiny_models: Path) -> Iterator[Served]:
    running = Served(build_services(make_settings(models_dir=tiny_models)))
    yield running
    running.stop()


@dataclass
class Owned:
    """Key A's files: an output (and its URL) and a stored input, with the tasks they belong to."""

    output_task: str
    output_url: str
    input_task: str
    input_ref: str

    @property
    def output_ref(self) -> str:
        return f"stored:outputs/{self.output_task}/image-1.png"


@pytest.fixture(scope="module")
def owned(server: Served) -> Owned:
    client = server.client
    first = client.wait(client.img_enlarge("cross-own-1", data_uri(encode(astronaut().resize((20, 10)))), scale=2))
    assert first["state"] == "success", first
    # A URL input is kept in storage under the new task: that task's stored input.
    second = client.wait(client.img_enlarge("cross-own-2", first["outputImageUrl"], scale=2))
    assert (second["width"], second["height"]) == (80, 40), second
    task = server.services.tasks.get(second["taskId"])
    assert task is not None
    ref = task.params["sourceImage"]
    assert ref.startswith(f"stored:inputs/{task.id}/")
    return Owned(first["taskId"], first["outputImageUrl"], task.id, ref)


@pytest.fixture(scope="module")
def other(server: Served) -> Iterator[Client]:
    client = server.new_client("intruder")
    yield client
    client.close()


def refusal(client: Client, path: str, body: dict[str, Any]) -> str:
    """The code a refused call answers."""
    with pytest.raises(ApiError) as refused:
        client.call(path, body)
    return refused.value.code


def test_a_key_uses_its_own_outputs_and_stored_inputs(server: Served, owned: Owned, bid: Callable[..., str]) -> None:
    client = server.client
    for value in (owned.output_ref, owned.output_url, owned.input_ref):
        done = client.wait(client.img_enlarge(bid(), value, scale=2))
        assert done["state"] == "success", (value, done)
        assert (done["width"], done["height"]) == (80, 40), (value, done)


def test_another_keys_files_answer_404_as_if_missing(
    server: Served, owned: Owned, other: Client, bid: Callable[..., str]
) -> None:
    base = server.base_url
    values = {
        "stored output": owned.output_ref,
        "stored input": owned.input_ref,
        "output URL without signature": owned.output_url,
        "input as URL": f"{base}/files/{owned.input_ref.removeprefix('stored:')}",
        "missing file": f"stored:outputs/{owned.output_task}/image-9.png",
    }
    for name, value in values.items():
        with pytest.raises(ApiError) as refused:
            other.img_enlarge(bid(), value, scale=2)
        assert refused.value.code == "404", name
        assert "no such file" in refused.value.msg, name
    # The same "404" whether the file exists or not: nothing tells the intruder which.
    messages = set()
    for value in (owned.output_ref, f"stored:outputs/{owned.output_task}/image-9.png"):
        with pytest.raises(ApiError) as refused:
            other.img_enlarge("same-msg", value, scale=2)
        messages.add(refused.value.msg)
    assert len(messages) == 1
    # Nested image fields go through the same check (a ControlNet unit's image).
    unit = {"input_image": owned.output_ref, "module": "canny", "model": "tiny-control-sd15"}
    body = {"prompt": "x", "batch_size": 1, "steps": 1, "width": 64, "height": 64, "controlnet": {"args": [unit]}}
    assert refusal(other, "/sd/v2/controlnet", body) == "404"


def test_the_worker_reads_inputs_on_behalf_of_the_tasks_key(server: Served, owned: Owned, other: Client) -> None:
    services = server.services
    mine = TaskContext("check", server.key_id, services.settings, services.inputs, services.storage)
    assert mine.image(owned.output_ref, "sourceImage").size == (40, 20)
    theirs = TaskContext("check", "someone-else", services.settings, services.inputs, services.storage)
    with pytest.raises(ImgOpenError) as refused:
        theirs.image(owned.output_ref, "sourceImage")
    assert refused.value.code == "404"
    # Training images are read by the worker: another key's files are skipped as missing, and
    # with nothing else to learn from, the task fails without having seen them.
    handle = other.train_lora(
        "cross-train", [owned.output_url, owned.output_url + "?x=1"], pretrainedModel="tiny-sd15", maxEpochs=1
    )
    done = other.wait(handle, timeout=120)
    assert done["state"] == "failed", done
    assert "no usable training image" in done["errorMsg"] and "no such file" in done["errorMsg"], done


def test_storage_path_tricks_answer_404_even_for_the_owner(
    server: Served, owned: Owned, bid: Callable[..., str]
) -> None:
    base = server.base_url
    tricks = [
        "stored:outputs/../imgopen.db",
        f"stored:outputs/{owned.output_task}/../../imgopen.db",
        f"stored:outputs/{owned.output_task}/../{owned.input_task}/x.png",
        "stored:/etc/passwd",
        "stored:../imgopen.db",
        "stored:models/checkpoints/tiny-sd15-single.safetensors",
        "stored:previews/x.png",
        f"stored:inputs/{owned.input_task}",
        f"{base}/files/outputs/%2e%2e/imgopen.db",
        f"{base}/files/outputs/{owned.output_task}/..%2F..%2Fimgopen.db",
        f"{base}/files/../imgopen.db",
    ]
    for value in tricks:
        with pytest.raises(ApiError) as refused:
            server.client.img_enlarge(bid(), value, scale=2)
        assert refused.value.code == "404", value


def raw_get(base_url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (HTTP clients would normalise the dots away)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_files_route_serves_outputs_only(server: Served, owned: Owned) -> None:
    base = server.base_url
    good = urlsplit(owned.output_url).path
    status, body = raw_get(base, good)
    assert status == 200 and decode(body).size == (40, 20)
    input_key = owned.input_ref.removeprefix("stored:")
    for path in [
        f"/files/{input_key}",
        "/files/outputs/../imgopen.db",
        f"/files/outputs/{owned.output_task}/../../imgopen.db",
        "/files/outputs/%2e%2e/imgopen.db",
        f"/files/outputs/{owned.output_task}/%2e%2e/%2e%2e/{input_key}",
        "/files/outputs%2f..%2fimgopen.db",
        "/files//etc/passwd",
        "/files/outputs//etc/passwd",
        "/models/preview/../../imgopen.db",
        "/models/preview/999999",
    ]:
        status, body = raw_get(base, path)
        assert status == 404, (path, status, body[:200])
        assert b"SQLite" not in body and b"root:" not in body


def test_names_of_models_and_files_never_become_paths(
    server: Served, tiny_models: Path, tmp_path: Path, bid: Callable[..., str]
) -> None:
    # Real model files outside the models folder, reachable by a relative or an absolute path.
    outside = tmp_path / "outside"
    outside.mkdir()
    checkpoint = shutil.copy(tiny_models / "checkpoints" / "tiny-sd15-single.safetensors", outside / "evil.safetensors")
    lora = shutil.copy(tiny_models / "loras" / "tiny-style.safetensors", outside / "evil-lora.safetensors")
    vae = shutil.copy(tiny_models / "vae" / "tiny-vae.safetensors", outside / "evil-vae.safetensors")
    relative = "../" * 12 + str(outside).lstrip("/")
    client = server.client
    sd: dict[str, Any] = {"prompt": "a cat", "batch_size": 1, "steps": 1, "width": 64, "height": 64}
    not_found: dict[str, tuple[str, dict[str, Any]]] = {
        "checkpoint, absolute": ("/sd/v2/text2image", {**sd, "sd_model_checkpoint": str(checkpoint)}),
        "checkpoint, relative": ("/sd/v2/text2image", {**sd, "sd_model_checkpoint": f"{relative}/evil.safetensors"}),
        "checkpoint, dots": ("/sd/v2/text2image", {**sd, "sd_model_checkpoint": "../checkpoints/tiny-sd15"}),
        "vae, absolute": ("/sd/v2/text2image", {**sd, "sd_vae": str(vae)}),
        "vae, relative": ("/sd/v2/text2image", {**sd, "sd_vae": "../vae/tiny-vae.safetensors"}),
        "lora, absolute": ("/sd/v2/text2image", {**sd, "prompt": f"a cat <lora:{Path(lora).with_suffix('')}:1>"}),
        "lora, relative": ("/sd/v2/text2image", {**sd, "prompt": f"a cat <lora:{relative}/evil-lora:1>"}),
        "lora, dots": ("/sd/v2/text2image", {**sd, "prompt": "a cat <lora:../loras/tiny-style:1>"}),
        "hr_upscaler": ("/sd/v2/text2image", {**sd, "enable_hr": True, "hr_upscaler": f"{relative}/x.pth"}),
        "controlnet model": (
            "/sd/v2/controlnet",
            {
                **sd,
                "controlnet": {
                    "args": [
                        {
                            "input_image": data_uri(encode(astronaut().resize((64, 64)))),
                            "module": "none",
                            "model": "../controlnet/tiny-control-sd15",
                        }
                    ]
                },
            },
        ),
        "training base": (
            "/modelTraining/submitTraining/Job",
            {"taskId": bid(), "fileUrlList": ["https://example.com/a.png"], "pretrainedModel": str(checkpoint)},
        ),
    }
    for name, (path, body) in not_found.items():
        assert refusal(client, path, body) == "404", name
    image = data_uri(encode(astronaut().resize((16, 16))))
    refused: dict[str, tuple[str, dict[str, Any]]] = {
        "superResolution model": ("/tool/superResolution", {"sourceImage": image, "model": f"{relative}/x.pth"}),
        "imgEnlarge model": ("/tool/imgEnlarge", {"sourceImage": image, "scale": 2, "model": "../upscale_models/x"}),
        "removeBg model": ("/tool/removeBg", {"sourceImage": image, "model": "../rembg/u2net.onnx"}),
        "training outputName, dots": (
            "/modelTraining/submitTraining/Job",
            {"taskId": bid(), "fileUrlList": ["https://example.com/a.png"], "outputName": "../evil"},
        ),
        "training outputName, folder": (
            "/modelTraining/submitTraining/Job",
            {"taskId": bid(), "fileUrlList": ["https://example.com/a.png"], "outputName": "sub/evil"},
        ),
        "training taskId as name": (
            "/modelTraining/submitTraining/Job",
            {"taskId": "../../evil", "fileUrlList": ["https://example.com/a.png"]},
        ),
    }
    for name, (path, body) in refused.items():
        envelope = {"businessTaskId": bid()} if path.startswith("/tool/") else {}
        assert refusal(client, path, {**body, **envelope}) == "400", name
    # Nothing was written outside the folders the server owns.
    assert len(list(outside.iterdir())) == 3
    assert not list(tiny_models.glob("**/evil*"))
