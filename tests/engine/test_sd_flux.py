"""Flux checkpoints on the SD endpoints, as Forge runs them (distilled guidance, CFG off, Euler),
over HTTP against the running server with the tiny models."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imgopen.client import ApiError
from imgopen.services import build_services
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.testing.tiny_models import flux_fill_pipeline, flux_pipeline, save_flux_lora
from tests.conftest import Served, SettingsFactory
from tests.engine.test_sd_api import generate, images_of, pixels


@pytest.fixture(scope="module")
def sd(make_settings: SettingsFactory, tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The tiny models, plus a Flux Fill model and a Flux LoRA."""
    models = tmp_path_factory.mktemp("flux") / "models"
    shutil.copytree(tiny_models, models)
    flux_fill_pipeline(seed=4).save_pretrained(models / "flux" / "tiny-flux-fill")
    save_flux_lora(flux_pipeline(seed=0).transformer, models / "loras" / "tiny-flux-style.safetensors", seed=9)
    running = Served(build_services(make_settings(models_dir=models)))
    yield running
    running.stop()


def warnings_of(answer: dict[str, Any]) -> str:
    return " | ".join(answer.get("warnings") or [])


DEV: dict[str, Any] = {
    "prompt": "a cat",
    "batch_size": 1,
    "steps": 2,
    "width": 64,
    "height": 80,
    "seed": 3,
    "sd_model_checkpoint": "tiny-flux-dev",
}
PHOTO = astronaut().resize((64, 80))


def test_flux_dev_text2image_is_the_flux_tools_image_and_follows_distilled_guidance(
    sd: Served, bid: Callable[..., str]
) -> None:
    answer = generate(sd.client, "/sd/v2/text2image", DEV)
    plain = images_of(answer)[0]
    assert plain.shape == (80, 64, 3)
    assert answer["info"]["baseModel"] == "Flux.1 D" and answer["info"]["sampler"] == "Euler"
    text = answer["info"]["infotext"]
    assert "Sampler: Euler," in text and "CFG scale: 1," in text and "Distilled CFG Scale: 3.5" in text
    assert not answer.get("warnings")  # the defaults say nothing
    # One generation path: the same pixels as tool/comfyui/text2image with the same settings.
    tool = sd.client.wait(
        sd.client.submit_tool(
            "comfyui/text2image", bid(), prompt="a cat", width=64, height=80, steps=2, seed=3, fluxGuidance=3.5
        )
    )
    assert np.array_equal(pixels(tool["outputImageUrl"]), plain)
    # Distilled guidance steers; fluxGuidance is the same field; cfg_scale does not (with a warning).
    guided = images_of(generate(sd.client, "/sd/v2/text2image", {**DEV, "distilled_cfg_scale": 9}))[0]
    assert np.abs(guided - plain).mean() > 0.5
    alias = images_of(generate(sd.client, "/sd/v2/text2image", {**DEV, "fluxGuidance": 9}))[0]
    assert np.array_equal(alias, guided)
    cfg = generate(sd.client, "/sd/v2/text2image", {**DEV, "cfg_scale": 4.5, "negative_prompt": "a dog"})
    assert np.array_equal(images_of(cfg)[0], plain)
    assert "cfg_scale: 4.5 is not used with Flux" in warnings_of(cfg) and "negative_prompt" in warnings_of(cfg)


def test_flux_batches_euler_a_and_schnell(sd: Served) -> None:
    answer = generate(sd.client, "/sd/v2/text2image", {**DEV, "batch_size": 2, "sampler_name": "Euler a"})
    first, second = images_of(answer)
    assert first.shape == second.shape == (80, 64, 3) and np.abs(first - second).mean() > 0.5
    assert [row["seed"] for row in answer["differentialImageRspList"]] == [3, 4]
    assert "Euler a runs as Euler on Flux" in warnings_of(answer)
    # Schnell has no guidance input: distilled_cfg_scale changes nothing, and the answer says so.
    schnell = {**DEV, "sd_model_checkpoint": "tiny-flux-schnell", "width": 96}
    base = images_of(generate(sd.client, "/sd/v2/text2image", schnell))[0]
    assert base.shape == (80, 96, 3)
    other = generate(sd.client, "/sd/v2/text2image", {**schnell, "distilled_cfg_scale": 9})
    assert np.array_equal(images_of(other)[0], base)
    assert "schnell" in warnings_of(other) and "Distilled CFG Scale" not in other["info"]["infotext"]


def test_flux_image2image_inpainting_and_noise_multiplier(sd: Served) -> None:
    init = data_uri(encode(PHOTO))
    body = {**DEV, "image_link": init, "denoising_strength": 0.6, "image_cfg_scale": 1.5}
    answer = generate(sd.client, "/sd/v2/image2image", body)
    changed = images_of(answer)[0]
    assert changed.shape == (80, 64, 3) and np.abs(changed - np.asarray(PHOTO, np.int16)).mean() > 1
    assert "image_cfg_scale: ignored" in warnings_of(answer)
    quieter = images_of(generate(sd.client, "/sd/v2/image2image", {**body, "initial_noise_multiplier": 0.5}))[0]
    assert np.abs(quieter - changed).mean() > 0.5
    mask = np.zeros((80, 64), np.uint8)
    mask[20:50, 16:48] = 255
    inpaint = {**body, "mask_link": data_uri(encode(Image.fromarray(mask))), "mask_blur": 0, "denoising_strength": 1}
    painted = images_of(generate(sd.client, "/sd/v2/image2image", inpaint))[0]
    original, outside = np.asarray(PHOTO, np.int16), mask == 0
    assert np.abs(painted[outside] - original[outside]).max() <= 1
    assert np.abs(painted[~outside] - original[~outside]).mean() > 5


def test_flux_fill_repaints_the_mask_only(sd: Served) -> None:
    mask = np.zeros((80, 64), np.uint8)
    mask[20:50, 16:48] = 255
    body = {
        **DEV,
        "sd_model_checkpoint": "tiny-flux-fill",
        "image_link": data_uri(encode(PHOTO)),
        "mask_link": data_uri(encode(Image.fromarray(mask))),
        "mask_blur": 0,
        "denoising_strength": 1,
        "distilled_cfg_scale": 30,
    }
    answer = generate(sd.client, "/sd/v2/image2image", body)
    painted = images_of(answer)[0]
    original, outside = np.asarray(PHOTO, np.int16), mask == 0
    assert answer["info"]["checkpoint"] == "tiny-flux-fill"
    assert np.abs(painted[outside] - original[outside]).max() <= 1
    assert np.abs(painted[~outside] - original[~outside]).mean() > 5
    with pytest.raises(ApiError) as refused:
        sd.client.call("/sd/v2/text2image", {**DEV, "sd_model_checkpoint": "tiny-flux-fill"})
    assert refused.value.code == "400" and "sd_model_checkpoint" in refused.value.msg and "Fill" in refused.value.msg


def test_flux_lora(sd: Served) -> None:
    plain = images_of(generate(sd.client, "/sd/v2/text2image", DEV))[0]
    styled = generate(sd.client, "/sd/v2/text2image", {**DEV, "prompt": "a cat <lora:tiny-flux-style:1>"})
    assert styled["info"]["loras"] == [{"name": "tiny-flux-style", "weight": 1.0}]
    assert np.abs(images_of(styled)[0] - plain).mean() > 0.5
    off = images_of(generate(sd.client, "/sd/v2/text2image", {**DEV, "prompt": "a cat <lora:tiny-flux-style:0>"}))
    assert np.array_equal(off[0], plain)


def test_flux_hires_fix_and_adetailer(sd: Served) -> None:
    hires = {**DEV, "enable_hr": True, "hr_scale": 2, "hr_second_pass_steps": 2, "denoising_strength": 0.5}
    latent = images_of(generate(sd.client, "/sd/v2/text2image", hires))[0]
    assert latent.shape == (160, 128, 3)
    lanczos = images_of(generate(sd.client, "/sd/v2/text2image", {**hires, "hr_upscaler": "Lanczos"}))[0]
    assert lanczos.shape == (160, 128, 3) and np.abs(lanczos - latent).mean() > 0.5
    answer = generate(sd.client, "/sd/v2/text2image", {**DEV, "ADetailer": {"args": [{}]}})
    assert images_of(answer)[0].shape == (80, 64, 3) and answer["info"]["ADetailer faces"] == 0


@pytest.mark.parametrize(
    ("path", "change", "named"),
    [
        ("/sd/v2/text2image", {"sampler_name": "DPM++ 2M Karras"}, "DPM++ 2M Karras"),
        ("/sd/v2/text2image", {"sd_vae": "tiny-vae.safetensors"}, "sd_vae"),
        ("/sd/v2/text2image", {"prompt": "a cat <lora:tiny-style:1>"}, "<lora:tiny-style>"),
        (
            "/sd/v2/controlnet",
            {"controlnet": {"args": [{"input_image": data_uri(encode(PHOTO)), "model": "tiny-control-sd15"}]}},
            "controlnet",
        ),
    ],
)
def test_what_flux_cannot_do_answers_400_naming_the_field(
    sd: Served, path: str, change: dict[str, Any], named: str
) -> None:
    with pytest.raises(ApiError) as refused:
        sd.client.call(path, {**DEV, **change})
    assert refused.value.code == "400" and named in refused.value.msg
    if "sampler_name" in change:
        assert "Euler, Euler a" in refused.value.msg
