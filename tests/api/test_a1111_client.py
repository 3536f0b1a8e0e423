"""The Automatic1111 API (/sdapi/v1, /controlnet) of a real `imgopen serve` process, driven by the
`webuiapi` client from PyPI, on the tiny models. The client parses every answer itself: nothing
here bends a field to make it pass."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import webuiapi
from PIL import Image

from imgopen.accounts.keys import CreatedKey, KeyStore
from imgopen.db.engine import Database
from imgopen.testing.images import astronaut
from imgopen.testing.server import ServerProcess


class Running:
    def __init__(self, server: ServerProcess, alice: CreatedKey, bob: CreatedKey) -> None:
        self.server = server
        self.alice = alice
        self.bob = bob

    def client(self, key: CreatedKey, secret: str | None = None) -> webuiapi.WebUIApi:
        return webuiapi.WebUIApi(
            host="127.0.0.1", port=self.server.port, username=key.id, password=secret or key.secret, steps=4
        )


@pytest.fixture(scope="module")
def a1111(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("a1111")
    env = {"IMGOPEN_MODELS_DIR": str(tiny_models), "IMGOPEN_TORCH_THREADS": "1", "IMGOPEN_CPU_WORKERS": "1"}
    with ServerProcess(data, env) as server:
        database = Database(f"sqlite:///{data / 'imgopen.db'}")
        store = KeyStore(database)
        yield Running(server, store.create("alice"), store.create("bob"))
        database.dispose()


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_txt2img_is_reproducible_and_its_info_parses(a1111: Running) -> None:
    api = a1111.client(a1111.alice)
    first = api.txt2img(prompt="a red cat", width=64, height=96, seed=7, batch_size=2, sampler_name="Euler")
    assert [image.size for image in first.images] == [(64, 96), (64, 96)]
    assert first.info["seed"] == 7 and first.info["all_seeds"] == [7, 8]
    assert first.info["sampler_name"] == "Euler" and first.info["width"] == 64
    assert len(first.info["infotexts"]) == 2 and "Seed: 7" in first.info["infotexts"][0]
    assert first.parameters["prompt"] == "a red cat"
    again = api.txt2img(prompt="a red cat", width=64, height=96, seed=7, batch_size=2, sampler_name="Euler")
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0]))
    assert not np.array_equal(pixels(first.images[0]), pixels(first.images[1]))
    # send_images false: the task still runs, the answer carries no images.
    quiet = api.txt2img(prompt="a red cat", width=64, height=64, seed=7, send_images=False)
    assert quiet.images == [] and quiet.info["all_seeds"] == [7]


def test_img2img_with_a_mask_repaints_only_the_white_area(a1111: Running) -> None:
    api = a1111.client(a1111.alice)
    init = astronaut().resize((64, 64))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))  # the left half
    done = api.img2img(
        images=[init],
        mask_image=mask,
        prompt="a dog",
        width=64,
        height=64,
        seed=4,
        denoising_strength=0.9,
        inpaint_full_res=False,
        mask_blur=0,
    )
    out, source = pixels(done.image), pixels(init)
    assert done.image.size == (64, 64)
    # The tiny VAE cannot keep pixels exact; the kept half stays far closer than the repainted one.
    kept = np.abs(out[:, 40:] - source[:, 40:]).mean()
    repainted = np.abs(out[:, :24] - source[:, :24]).mean()
    assert repainted > 3 * kept, (kept, repainted)


def test_a_controlnet_unit_through_the_clients_unit(a1111: Running) -> None:
    api = a1111.client(a1111.alice)
    control = astronaut().resize((64, 64))
    models = httpx.get(
        f"{a1111.server.base_url}/controlnet/model_list", auth=(a1111.alice.id, a1111.alice.secret), trust_env=False
    ).json()["model_list"]
    model = next(name for name in models if name.startswith("tiny-control-sd15"))
    plain = api.txt2img(prompt="a house", width=64, height=64, seed=9)
    unit = webuiapi.ControlNetUnit(image=control, module="canny", model=model, weight=1.0)
    # A dict of our own: webuiapi 0.9.17 adds the units to its mutable default `alwayson_scripts`,
    # which every later call of any client instance would then carry.
    steered = api.txt2img(prompt="a house", width=64, height=64, seed=9, controlnet_units=[unit], alwayson_scripts={})
    assert steered.image.size == (64, 64)
    assert np.abs(pixels(steered.image) - pixels(plain.image)).mean() > 0.5
    assert steered.info["warnings"] == []


def test_set_options_switches_the_model_for_this_key_only(a1111: Running) -> None:
    alice, bob = a1111.client(a1111.alice), a1111.client(a1111.bob)
    titles = [model["title"] for model in alice.get_sd_models()]
    single = next(title for title in titles if title.startswith("tiny-sd15-single"))
    alice.set_options({"sd_model_checkpoint": single})
    assert alice.util_get_current_model() == single
    done = alice.txt2img(prompt="a cat", width=64, height=64, seed=1)
    assert done.info["sd_model_name"] == "tiny-sd15-single.safetensors"
    assert bob.util_get_current_model() != single  # another key's setting is its own
    missing = httpx.post(
        f"{a1111.server.base_url}/sdapi/v1/options",
        json={"sd_model_checkpoint": "no-such-model"},
        auth=(a1111.alice.id, a1111.alice.secret),
        trust_env=False,
    )
    assert missing.status_code == 404 and "no-such-model" in missing.json()["detail"]
    assert alice.util_get_current_model() == single  # unchanged
    # override_settings for one request, without changing the key's option.
    once = alice.txt2img(
        prompt="a cat", width=64, height=64, seed=1, override_settings={"sd_model_checkpoint": "tiny-sd15"}
    )
    assert once.info["sd_model_name"] == "tiny-sd15" and alice.util_get_current_model() == single
    alice.set_options({"sd_model_checkpoint": "tiny-sd15"})


def test_override_settings_kept_when_not_restored_afterwards(a1111: Running) -> None:
    api = a1111.client(a1111.bob)
    before = api.util_get_current_model()
    done = api.txt2img(
        prompt="a cat",
        width=64,
        height=64,
        seed=2,
        override_settings={"sd_model_checkpoint": "tiny-sd15-single.safetensors", "CLIP_stop_at_last_layers": 2},
        override_settings_restore_afterwards=False,
    )
    assert done.info["sd_model_name"] == "tiny-sd15-single.safetensors" and done.info["clip_skip"] == 2
    assert api.util_get_current_model().startswith("tiny-sd15-single") and not before.startswith("tiny-sd15-single")
    assert api.get_options()["CLIP_stop_at_last_layers"] == 2
    api.set_options({"sd_model_checkpoint": "tiny-sd15", "CLIP_stop_at_last_layers": 1})


def test_a_flux_checkpoint_through_txt2img(a1111: Running) -> None:
    api = a1111.client(a1111.alice)
    body: dict[str, Any] = {"prompt": "a cat", "width": 64, "height": 64, "seed": 3, "steps": 2}
    low = api.txt2img(**body, override_settings={"sd_model_checkpoint": "tiny-flux-dev"})
    assert low.image.size == (64, 64) and low.info["sd_model_name"] == "tiny-flux-dev"
    # Forge's distilled guidance moves the picture (sent as A1111 clients of Forge send it).
    high = httpx.post(
        f"{a1111.server.base_url}/sdapi/v1/txt2img",
        json={**body, "distilled_cfg_scale": 9.0, "override_settings": {"sd_model_checkpoint": "tiny-flux-dev"}},
        auth=(a1111.alice.id, a1111.alice.secret),
        timeout=300,
        trust_env=False,
    ).json()
    import base64
    import io

    other = Image.open(io.BytesIO(base64.b64decode(high["images"][0])))
    assert np.abs(pixels(other) - pixels(low.image)).mean() > 0.1
    refused = httpx.post(
        f"{a1111.server.base_url}/sdapi/v1/txt2img",
        json={**body, "sampler_name": "DDIM", "override_settings": {"sd_model_checkpoint": "tiny-flux-dev"}},
        auth=(a1111.alice.id, a1111.alice.secret),
        timeout=300,
        trust_env=False,
    )
    assert refused.status_code == 422 and "DDIM" in refused.json()["detail"]


def test_skip_ends_the_current_image_and_the_job_goes_on(a1111: Running) -> None:
    api = a1111.client(a1111.alice)
    answer: dict[str, Any] = {}

    def job() -> None:
        answer["result"] = api.txt2img(prompt="a cat", width=64, height=64, steps=60, n_iter=2, seed=1)

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 60
    while api.get_progress()["state"]["sampling_step"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    api.skip()
    worker.join(120)
    result = answer["result"]
    assert len(result.images) == 2 and result.info["skipped"] == [0]
    assert result.info["interrupted"] is False


def test_lists_interrogate_and_extras(a1111: Running) -> None:
    api = a1111.client(a1111.alice)
    assert {"tiny-sd15", "tiny-sdxl"} <= {model["model_name"] for model in api.get_sd_models()}
    assert {lora["name"] for lora in api.get_loras()} >= {"tiny-style"}
    samplers = {sampler["name"] for sampler in api.get_samplers()}
    assert {"Euler a", "DPM++ 2M Karras", "DDIM"} <= samplers
    assert [vae["model_name"] for vae in api.get_sd_vae()] == ["tiny-vae.safetensors"]
    assert "tinyneg" in api.get_embeddings()["loaded"]
    assert {"Lanczos", "R-ESRGAN AnimeVideo"} <= {u["name"] for u in api.get_upscalers()}
    photo = astronaut().resize((96, 96))
    caption = api.interrogate(photo)
    assert isinstance(caption.info, str) and len(caption.info) > 10
    enlarged = api.extra_single_image(photo, upscaler_1="Lanczos", upscaling_resize=2)
    assert enlarged.image.size == (192, 192)
    with pytest.raises(RuntimeError) as nothing:
        api.extra_single_image(photo)  # upscaler None and no face restoration: nothing to do
    assert nothing.value.args[0] == 422
    detected = api.controlnet_detect([photo], module="canny", processor_res=96)
    assert detected.info == "Success" and detected.images[0].size == (96, 96)
    edges = np.asarray(detected.images[0].convert("L"))
    assert 0 < (edges > 128).mean() < 0.5  # a map of edges, not the photograph
    # png-info on the PNG as the server sent it (the client's PIL re-encoding would drop the text).
    png = api.txt2img(prompt="a cat", width=64, height=64, seed=5).json["images"][0]
    info = httpx.post(
        f"{a1111.server.base_url}/sdapi/v1/png-info",
        json={"image": png},
        auth=(a1111.alice.id, a1111.alice.secret),
        trust_env=False,
    ).json()
    assert info["parameters"]["Seed"] == "5" and info["parameters"]["Prompt"] == "a cat"
    assert info["info"].startswith("a cat\n")


def test_interrupt_stops_the_callers_running_job(a1111: Running) -> None:
    alice, bob = a1111.client(a1111.alice), a1111.client(a1111.bob)
    answer: dict[str, Any] = {}

    def long_job() -> None:
        started = time.monotonic()
        answer["result"] = alice.txt2img(prompt="a slow cat", width=64, height=64, steps=150, n_iter=8)
        answer["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=long_job)
    worker.start()
    deadline = time.monotonic() + 60
    progress = alice.get_progress()
    while progress["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        progress = alice.get_progress()
    assert progress["state"]["job_count"] == 1 and progress["state"]["sampling_steps"] == 1200
    assert bob.get_progress()["state"]["job_count"] == 0  # another key sees none of it
    bob.interrupt()  # ... and cannot stop it
    time.sleep(0.5)
    assert alice.get_progress()["state"]["job_count"] == 1
    alice.interrupt()
    worker.join(60)
    assert not worker.is_alive()
    assert answer["result"].info["interrupted"] is True
    assert answer["seconds"] < 60


def test_wrong_or_missing_credentials_are_refused(a1111: Running) -> None:
    with pytest.raises(RuntimeError) as wrong:
        a1111.client(a1111.alice, secret="wrong").txt2img(prompt="x", width=64, height=64)
    assert wrong.value.args[0] == 401
    anonymous = httpx.get(f"{a1111.server.base_url}/sdapi/v1/sd-models", trust_env=False)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    # The Img Open headers work too.
    headers = {"X-Request-req-accessKeyId": a1111.alice.id, "X-Request-req-accessKeySecret": a1111.alice.secret}
    assert httpx.get(f"{a1111.server.base_url}/sdapi/v1/samplers", headers=headers, trust_env=False).status_code == 200
    # A1111 status codes, not the envelope.
    bad = httpx.post(
        f"{a1111.server.base_url}/sdapi/v1/txt2img",
        json={"prompt": "x", "sampler_name": "No Such Sampler", "width": 64, "height": 64},
        auth=(a1111.alice.id, a1111.alice.secret),
        trust_env=False,
    )
    assert bad.status_code == 422 and "sampler" in bad.json()["detail"]
