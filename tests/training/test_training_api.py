"""LoRA training over HTTP on the tiny SD 1.5 model: it trains, the loss falls, the LoRA appears in
the list with its trigger word and moves generations toward what it was trained on."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from imgopen.client import ApiError, Client
from imgopen.services import build_services
from imgopen.testing.http_peers import running_peer
from imgopen.testing.images import data_uri, encode
from tests.conftest import Served, SettingsFactory


def pattern(seed: int) -> Image.Image:
    """The learnable pattern: magenta with green vertical stripes every 8 pixels (a little noise)."""
    pixels = np.zeros((64, 64, 3), np.int16)
    pixels[...] = (230, 20, 200)
    pixels[:, ::8] = (20, 220, 40)
    noise = np.random.default_rng(seed).integers(-8, 9, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def training_body(task_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taskId": task_id,
        "fileUrlList": [data_uri(encode(pattern(i))) for i in range(8)],
        "pretrainedModel": "tiny-sd15",
        "maxEpochs": 6,
        "batchSize": 2,
        "learning_rate": "1e-2",  # snake_case works too, and learning rates come as strings
        "resolution": 64,
        "repeats": 2,
        "networkDim": 8,
        "networkAlpha": 8,
        "triggerWord": "zxq",
        "minBucketReso": 64,
        "maxBucketReso": 128,
        "seed": 1,
        "mixedPrecision": "no",
        "lrScheduler": "constant",
    }
    body.update(overrides)
    return body


def wait_training(client: Client, task_id: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.call("/modelTraining/queryTraining/Job", {"taskId": task_id, "waitSeconds": 30})
        if view["state"] in ("success", "failed", "cancelled") or time.monotonic() > deadline:
            return view


@pytest.fixture(scope="module")
def trainer(
    make_settings: SettingsFactory, tiny_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    models = tmp_path_factory.mktemp("training-models")
    shutil.copytree(tiny_models, models, dirs_exist_ok=True)  # the trained LoRA lands in this copy
    running = Served(build_services(make_settings(models_dir=models)))
    yield running
    running.stop()


def generate(client: Client, prompt: str, seed: int) -> np.ndarray:
    body = {
        "prompt": prompt,
        "batch_size": 1,
        "steps": 20,
        "width": 64,
        "height": 64,
        "seed": seed,
        "sd_model_checkpoint": "tiny-sd15",
    }
    task = client.call("/sd/v2/text2image", body)["task_id"]
    answer = client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task, "waitSeconds": 60})
    assert answer["status"] == 2, answer
    content = httpx.get(answer["differentialImageRspList"][0]["image_url"], trust_env=False).content
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB"), np.float64)


def through_the_vae(models: Path, image: Image.Image) -> np.ndarray:
    """What the (random) tiny VAE makes of the pattern: the image a model that learned the
    training latents would draw. Comparing in pixel space to the pattern itself would be
    meaningless with a random decoder."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(str(models / "checkpoints" / "tiny-sd15"), subfolder="vae")
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(image, np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
        decoded = vae.decode(vae.encode(x).latent_dist.mean).sample[0].permute(1, 2, 0).numpy()
    return np.asarray(((decoded + 1) * 127.5).clip(0, 255), np.float64)


def test_training_runs_to_the_end_and_the_lora_is_usable_at_once(trainer: Served) -> None:
    client = trainer.client
    answer = client.call("/modelTraining/submitTraining/Job", training_body("train-1", outputName="zxq-style"))
    assert answer["taskId"] == "train-1"
    seen_progress = []
    while (view := client.call("/modelTraining/queryTraining/Job", {"taskId": "train-1"}))["state"] in (
        "queued",
        "running",
    ):
        if view["state"] == "running" and view["step"]:
            seen_progress.append((view["epoch"], view["step"], view["totalSteps"], view["loss"]))
        time.sleep(0.5)
    done = wait_training(client, "train-1")
    assert done["state"] == "success" and done["status"] == 1, done
    assert seen_progress and all(total == 48 for _e, _s, total, _l in seen_progress)
    assert (done["loraFileName"], done["sdLoraFileSimplifyName"]) == ("zxq-style.safetensors", "zxq-style")
    losses = done["epochLosses"]
    assert len(losses) == 6 and losses[-1] < losses[0] * 0.8, losses  # the loss on the training set falls
    assert httpx.get(done["loraUrl"], trust_env=False).content[:8] != b""  # downloadable
    rows = client.call("/sd/v2/queryLoraList", {"pageSize": 50, "pageNum": 1, "sdLoraFileSimplifyName": "zxq-style"})
    assert rows["total"] == 1 and rows["rows"][0]["triggerWords"][0] == "zxq"
    assert rows["rows"][0]["modelBaseModel"] == "SD 1.5"
    reference = through_the_vae(trainer.services.catalog.models_dir, pattern(0))
    without = [generate(client, "zxq", seed) for seed in (5, 6)]
    with_lora = [generate(client, "zxq <lora:zxq-style:1>", seed) for seed in (5, 6)]
    assert all(np.abs(a - b).mean() > 1 for a, b in zip(without, with_lora, strict=True))
    distance_without = np.mean([np.abs(image - reference).mean() for image in without])
    distance_with = np.mean([np.abs(image - reference).mean() for image in with_lora])
    assert distance_with < distance_without, (distance_with, distance_without)


def test_bad_training_requests(trainer: Served, bid: Callable[..., str]) -> None:
    client = trainer.client
    cases = [
        ({"fileUrlList": []}, "400", "fileUrlList"),
        ({"pretrainedModel": "nope"}, "404", "pretrainedModel"),
        ({"pretrainedModel": "tiny-flux-dev"}, "400", "pretrainedModel"),
        ({"networkDim": 0}, "400", "networkDim"),
        ({"learningRate": "fast"}, "400", "learningRate"),
        ({"maxEpochs": 0}, "400", "maxEpochs"),
        ({"optimizerType": "Adam9000"}, "400", "optimizerType"),
        ({"optimizerType": "AdamW8bit"}, "400", "AdamW8bit"),
        ({"captionList": ["one"]}, "400", "captionList"),
        ({"outputName": "../escape"}, "400", "outputName"),
        ({"fileUrlList": ["not a url"]}, "400", "fileUrlList"),
    ]
    for change, code, named in cases:
        with pytest.raises(ApiError) as refused:
            client.call("/modelTraining/submitTraining/Job", training_body(bid("bad"), **change))
        assert refused.value.code == code and named in refused.value.msg, (change, refused.value.msg)


def test_unreachable_and_non_image_files_are_skipped_with_warnings(trainer: Served, tmp_path: Path) -> None:
    client = trainer.client
    with running_peer() as peer:
        missing = peer.base + "/gone.png"  # loopback: refused by the SSRF guard, like an unreachable URL
        good = [data_uri(encode(pattern(i))) for i in range(2)]
        text = data_uri(b"this is not an image", "image/png")
        body = training_body("train-skip", fileUrlList=[*good, missing, text], maxEpochs=1, repeats=1)
        client.call("/modelTraining/submitTraining/Job", body)
        done = wait_training(client, "train-skip")
    assert done["state"] == "success", done
    assert len(done["warnings"]) == 2 and all("skipped fileUrlList[" in w for w in done["warnings"])
    assert done["images"] == 2
    nothing = training_body("train-none", fileUrlList=[text, missing], maxEpochs=1)
    client.call("/modelTraining/submitTraining/Job", nothing)
    failed = wait_training(client, "train-none")
    assert failed["state"] == "failed" and failed["errorCode"] == "422"
    assert "no usable training image" in failed["errorMsg"]
