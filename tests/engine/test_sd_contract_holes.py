"""Parts of the SD contract that were accepted and did nothing, or did something without a word:
initial_noise_multiplier, image_cfg_scale (instruct-pix2pix), approximated samplers, empty masks,
ignored override_settings, the ControlNet units' preprocessing (as cnt/preview's), and skip.
Over HTTP against the running server, on a copy of the tiny models plus an instruct-pix2pix one."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from imgopen.client import ApiError, Client
from imgopen.services import build_services
from imgopen.testing.images import astronaut, data_uri, decode, encode
from imgopen.testing.tiny_models import instruct_pix2pix_pipeline
from tests.conftest import Served, SettingsFactory
from tests.tools.pixels import onnx_models


@pytest.fixture(scope="module")
def models(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("holes") / "models"
    shutil.copytree(tiny_models, root)
    instruct_pix2pix_pipeline(seed=5).save_pretrained(root / "checkpoints" / "tiny-ip2p")
    return root


@pytest.fixture(scope="module")
def sd(make_settings: SettingsFactory, models: Path) -> Iterator[Served]:
    running = Served(build_services(make_settings(models_dir=models)))
    yield running
    running.stop()


def submit(client: Client, path: str, body: dict[str, Any]) -> str:
    task_id: str = client.call(path, body)["task_id"]
    return task_id


def wait(client: Client, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task_id, "waitSeconds": 30})
        if answer["state"] in ("success", "failed", "cancelled") or time.monotonic() > deadline:
            return answer


def generate(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return wait(client, submit(client, path, body))


def pixels(url: str) -> np.ndarray:
    return np.asarray(decode(httpx.get(url, trust_env=False).content).convert("RGB"), dtype=np.int16)


def images_of(answer: dict[str, Any]) -> list[np.ndarray]:
    assert answer["status"] == 2, answer
    return [pixels(row["image_url"]) for row in answer["differentialImageRspList"]]


def warnings_of(answer: dict[str, Any]) -> str:
    return " | ".join(answer.get("warnings") or [])


BASE: dict[str, Any] = {"prompt": "a red cat", "batch_size": 1, "steps": 3, "width": 64, "height": 64, "seed": 11}
PHOTO = astronaut().resize((64, 64))
INIT = data_uri(encode(PHOTO))


def test_initial_noise_multiplier_scales_the_noise_added_to_the_init_image(sd: Served) -> None:
    body = {**BASE, "image_link": INIT, "denoising_strength": 0.6}
    before = images_of(generate(sd.client, "/sd/v2/image2image", body))[0]
    same = generate(sd.client, "/sd/v2/image2image", {**body, "initial_noise_multiplier": 1.0})
    assert np.array_equal(images_of(same)[0], before) and "Noise multiplier" not in same["info"]["infotext"]
    low = generate(sd.client, "/sd/v2/image2image", {**body, "initial_noise_multiplier": 0.2})
    quiet = images_of(low)[0]
    assert np.abs(quiet - before).mean() > 1 and "Noise multiplier: 0.2" in low["info"]["infotext"]


def test_image_cfg_scale_guides_instruct_pix2pix_and_is_reported_ignored_elsewhere(sd: Served) -> None:
    plain = generate(sd.client, "/sd/v2/image2image", {**BASE, "image_link": INIT, "image_cfg_scale": 1.5})
    assert plain["status"] == 2
    assert "image_cfg_scale: ignored: tiny-sd15 is not an instruct-pix2pix model" in warnings_of(plain)
    assert "Image CFG scale ignored: not an instruct-pix2pix model" in plain["info"]["infotext"]
    edit = {**BASE, "image_link": INIT, "sd_model_checkpoint": "tiny-ip2p", "denoising_strength": 1}
    answer = generate(sd.client, "/sd/v2/image2image", edit)
    loose = images_of(answer)[0]
    assert loose.shape == (64, 64, 3) and not answer.get("warnings")
    assert "Image CFG scale: 1.5" in answer["info"]["infotext"]  # A1111's default
    strict = generate(sd.client, "/sd/v2/image2image", {**edit, "image_cfg_scale": 4})
    assert np.abs(images_of(strict)[0] - loose).mean() > 0.5 and "Image CFG scale: 4" in strict["info"]["infotext"]
    with pytest.raises(ApiError) as refused:
        sd.client.call("/sd/v2/text2image", {**BASE, "sd_model_checkpoint": "tiny-ip2p"})
    assert refused.value.code == "400" and "instruct-pix2pix" in refused.value.msg


def test_approximated_samplers_and_ignored_settings_are_named(sd: Served) -> None:
    body = {
        **BASE,
        "sampler_name": "DPM++ SDE Karras",
        "override_settings": {"CLIP_stop_at_last_layers": 2, "samples_format": "jpg", "eta_noise_seed_delta": 31337},
    }
    answer = generate(sd.client, "/sd/v2/text2image", body)
    said = warnings_of(answer)
    assert "sampler_name: DPM++ SDE Karras is approximated by DPM++ singlestep" in said
    assert "Sampler approximation: approximated by DPM++ singlestep" in answer["info"]["infotext"]
    assert "override_settings.eta_noise_seed_delta is not supported here and was ignored" in said
    assert "CLIP_stop_at_last_layers" not in said and "samples_format" not in said
    url = answer["differentialImageRspList"][0]["image_url"]
    assert decode(httpx.get(url, trust_env=False).content).format == "JPEG"  # samples_format honoured
    exact = generate(sd.client, "/sd/v2/text2image", {**BASE, "sampler_name": "DPM++ 2M Karras"})
    assert exact["status"] == 2 and not exact.get("warnings")


def test_an_empty_inpainting_mask_fails_with_400_naming_mask_link(sd: Served) -> None:
    black = data_uri(encode(Image.new("L", (64, 64), 0)))
    white = data_uri(encode(Image.new("L", (64, 64), 255)))
    for mask, invert in ((black, 0), (white, 1)):
        body = {**BASE, "image_link": INIT, "mask_link": mask, "inpainting_mask_invert": invert}
        answer = generate(sd.client, "/sd/v2/image2image", body)
        assert answer["state"] == "failed" and answer["errorCode"] == "400", answer
        assert answer["errorMsg"].startswith("mask_link: the mask is empty")
    answer = generate(sd.client, "/sd/v2/image2image", {**BASE, "image_link": INIT, "mask_link": white})
    assert answer["status"] == 2  # all white: everything is repainted


def test_depth_units_need_the_depth_network_and_run_as_cnt_preview(sd: Served, models: Path) -> None:
    unit = {"input_image": INIT, "module": "depth_midas", "model": "tiny-control-sd15", "processor_res": 64}
    body = {**BASE, "controlnet": {"args": [unit]}}
    with pytest.raises(ApiError) as missing:
        sd.client.call("/sd/v2/controlnet", body)
    assert missing.value.code == "503" and "depth_anything_v2_vits.onnx" in missing.value.msg
    weights = onnx_models.depth(models / "annotators" / "depth_anything_v2_vits.onnx")
    try:
        depth = images_of(generate(sd.client, "/sd/v2/controlnet", body))[0]
        plain = images_of(generate(sd.client, "/sd/v2/text2image", BASE))[0]
        assert depth.shape == (64, 64, 3) and np.abs(depth - plain).mean() > 0.5
        # The map of a long thin image at processor_res: over the pixel limit, as cnt/preview answers it.
        strip = data_uri(encode(Image.new("RGB", (2000, 10), (40, 90, 200))))
        thin = {"input_image": strip, "module": "canny", "model": "tiny-control-sd15", "processor_res": 2048}
        answer = generate(sd.client, "/sd/v2/controlnet", {**BASE, "controlnet": {"args": [thin]}})
        assert answer["state"] == "failed" and answer["errorCode"] == "400"
        assert answer["errorMsg"].startswith("controlnet.args[0].processor_res: the map would be 409600x2048")
    finally:
        weights.unlink()


def test_skip_ends_the_current_image_and_goes_on_with_the_next(sd: Served) -> None:
    body = {**BASE, "n_iter": 3, "steps": 16, "cfg_scale": 1, "sampler_name": "Euler"}
    whole = images_of(generate(sd.client, "/sd/v2/text2image", body))
    # The denoiser's calls measure the work done (timings on a shared machine do not); the skip is
    # asked for at a known step of the first image, whatever this machine's speed.
    loaded = next(
        v for v in sd.services.engine.cache.values() if getattr(v, "entry", None) and v.entry.name == "tiny-sd15"
    )
    calls: list[int] = []
    submitted: list[str] = []
    known = threading.Event()
    skip_asked: list[bool] = []

    def on_call(*_: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            known.wait(30)
            skip_asked.append(sd.services.tasks.request_skip(submitted[0]))
            # Longer than the progress interval (0.25 s): this step's report brings the skip back.
            time.sleep(0.3)

    hook = loaded.pipe.unet.register_forward_hook(on_call)
    try:
        task_id = submit(sd.client, "/sd/v2/text2image", body)
        task = sd.services.tasks.find(sd.key_id, task_id)
        assert task is not None
        submitted.append(task.id)
        known.set()
        answer = wait(sd.client, task_id)
    finally:
        hook.remove()
    assert skip_asked == [True]
    skipped = images_of(answer)
    assert len(skipped) == 3 and answer["info"]["skipped"] == [0]
    assert np.abs(skipped[0] - whole[0]).mean() > 1  # the first image as it stood when skipped
    assert np.array_equal(skipped[1], whole[1]) and np.array_equal(skipped[2], whole[2])
    assert 2 * 16 < len(calls) <= 2 * 16 + 5  # the first image's steps after the skip never ran
