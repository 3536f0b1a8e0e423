"""Engine pieces on their own: image preparation, samplers, previews, the cache, ADetailer."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgopen.config import Settings
from imgopen.engine.adetailer import redraw_faces
from imgopen.engine.cache import ModelCache
from imgopen.engine.generate import Generator, seeded_generators
from imgopen.engine.images import masked_region, paste_back, prepare_mask, resize_to
from imgopen.engine.params import Text2ImageParams
from imgopen.engine.preview import latents_to_rgb
from imgopen.engine.progress import StepProgress
from imgopen.engine.prompt_encoding import encode_prompts
from imgopen.engine.samplers import SAMPLERS, make_scheduler, resolve_sampler
from imgopen.errors import ImgOpenError
from imgopen.services import Services, build_services
from imgopen.testing.direct import direct_context
from imgopen.testing.images import astronaut


def test_resize_modes_give_the_size_asked() -> None:
    wide = Image.new("RGB", (200, 100), (200, 10, 10))
    for mode in range(4):
        assert resize_to(wide, (64, 64), mode).size == (64, 64)
    cropped = np.asarray(resize_to(wide, (64, 64), 1))
    assert cropped.reshape(-1, 3).std(axis=0).max() < 1  # cover and crop: all of it is the picture
    filled = np.asarray(resize_to(wide, (64, 64), 2)).astype(int)
    assert abs(filled[32, 32, 0] - 200) < 3 and abs(filled[0, 32, 0] - 200) < 30  # borders stretched out


def test_mask_region_and_paste_back_keep_the_outside() -> None:
    mask = Image.new("L", (100, 80), 0)
    mask.paste(255, (40, 30, 50, 40))
    region = masked_region(mask, padding=4, target=(64, 64))
    assert region is not None
    left, top, right, bottom = region.box
    assert left <= 36 and top <= 26 and right >= 54 and bottom >= 44
    assert abs((right - left) - (bottom - top)) <= 1  # the target's aspect ratio
    assert masked_region(Image.new("L", (10, 10), 0), 4, (8, 8)) is None
    original = astronaut().resize((100, 80))
    painted = Image.new("RGB", region.size, (0, 255, 0))
    out = np.asarray(paste_back(original, painted, mask, region)).astype(int)
    inside = np.asarray(mask) > 0
    assert np.array_equal(out[~inside], np.asarray(original).astype(int)[~inside])
    assert (out[inside][:, 1] > 200).all()


def test_mask_blur_and_invert() -> None:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    blurred = np.asarray(prepare_mask(mask, (64, 64), 0, invert=False, blur_x=4, blur_y=4)).astype(int)
    assert 0 < blurred[16, 32] < 255 and blurred[32, 32] == 255 and blurred[0, 0] == 0
    inverted = np.asarray(prepare_mask(mask, (64, 64), 0, invert=True, blur_x=0, blur_y=0))
    assert inverted[32, 32] == 0 and inverted[0, 0] == 255


def test_sampler_names() -> None:
    assert resolve_sampler("dpm++ 2m karras") == "DPM++ 2M Karras"
    assert resolve_sampler(None) is None and resolve_sampler("") is None
    with pytest.raises(ImgOpenError) as unknown:
        resolve_sampler("Euler z")
    assert unknown.value.code == "400" and "Euler a" in unknown.value.msg
    from diffusers import DDIMScheduler

    base = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).config
    karras = make_scheduler("DPM++ 2M Karras", base)
    assert karras.config.use_karras_sigmas is True


# "Euler a" is DDPM's ancestral step written in sigmas (Karras et al. 2022): the same updates and
# the same noise draws, so the same images (to float rounding) at any settings.
MATHEMATICALLY_EQUAL = [{"Euler a", "DDPM"}]


def same_images() -> list[set[str]]:
    """The pairs expected to give the same images: the ones above, and names the table maps to
    the same scheduler with the same options, which it may do only for an approximation it notes
    (as it did for "DPM++ SDE" and "DPM++ 2S a" before the latter had its own scheduler)."""
    by_spec: dict[tuple[str, str], set[str]] = {}
    for name, spec in SAMPLERS.items():
        by_spec.setdefault((spec.scheduler, repr(sorted(spec.options.items()))), set()).add(name)
    shared = [names for names in by_spec.values() if len(names) > 1]
    for names in shared:
        assert all(SAMPLERS[name].note for name in names), f"{sorted(names)}: one scheduler for two names, unexplained"
    return [*MATHEMATICALLY_EQUAL, *shared]


def test_every_sampler_draws_an_image_and_each_its_own(engine_services: Services) -> None:
    """Every sampler name the server accepts, from the same seed, through the engine's own path
    (the name checked as the API checks it, the scheduler set on the pipeline as for a task). On
    the tiny model the images differ little (its 3-step pictures are mostly the VAE's rendering
    of the starting noise), so they are compared as floats: different samplers differ by 3e-3 or
    more, the equal ones above by 1e-6 or less."""
    engine = engine_services.engine
    images: dict[str, np.ndarray] = {}
    with engine.checkpoint(engine.catalog.require("checkpoint", "tiny-sd15", "sd_model_checkpoint")) as loaded:
        pipe = loaded.pipe
        embeds = encode_prompts(pipe, "a red cat", "", 1).as_kwargs()
        for name in SAMPLERS:
            params = Text2ImageParams(prompt="a red cat", batch_size=1, sampler_name=name.lower())
            assert params.sampler_name == name
            loaded.configure(pipe, params.sampler_name, None)
            # cfg_scale 1: no unconditional pass, half the work; the samplers are the same.
            output = pipe(
                **embeds,
                num_inference_steps=3,
                guidance_scale=1.0,
                width=64,
                height=64,
                generator=seeded_generators([11]),
                output_type="np",
            )
            image = output.images[0]
            assert image.shape == (64, 64, 3) and np.isfinite(image).all(), name
            assert image.std() > 0.1 and image.min() >= 0 and image.max() <= 1, name  # a picture, not a blank
            images[name] = image
    equal = same_images()
    for first, second in itertools.combinations(SAMPLERS, 2):
        gap = float(np.abs(images[first] - images[second]).max())
        if any({first, second} <= names for names in equal):
            assert gap < 1e-5, (first, second, gap)
        else:
            assert gap > 1e-3, (first, second, gap)


def test_preview_from_latents() -> None:
    latents = torch.randn(4, 8, 8)
    for family in ("SD 1.5", "SDXL 1.0", "Flux.1 D"):
        rgb = latents_to_rgb(latents, family)
        assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8 and rgb.std() > 5
    assert latents_to_rgb(torch.randn(16, 4, 6), "Flux.1 D").shape == (4, 6, 3)


def test_cache_evicts_the_least_recently_used_within_the_budget() -> None:
    def module(mb: int) -> torch.nn.Module:
        return torch.nn.Linear(1, mb * (1 << 18), bias=False)  # mb megabytes of float32

    cache = ModelCache(budget_bytes=3 << 20)
    cache.get("a", lambda: module(1))
    cache.get("b", lambda: module(1))
    cache.get("a", lambda: module(1))  # a is now the most recent
    cache.get("c", lambda: module(2))  # needs room: b goes, a stays
    assert set(cache.keys()) == {"a", "c"}
    assert cache.loads == 3
    with cache.use("a", lambda: module(1)):
        cache.get("d", lambda: module(2))  # a is in use: c goes
        held = cache.keys()
        assert "a" in held and "c" not in held
    assert sorted(cache.unload()) == ["a", "d"]
    assert cache.keys() == []


@pytest.fixture(scope="module")
def engine_services(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data = tmp_path_factory.mktemp("engine")
    services = build_services(Settings(data_dir=data, models_dir=tiny_models, database_url=f"sqlite:///{data}/db"))
    yield services
    services.db.dispose()


def test_adetailer_redraws_the_astronauts_face_and_nothing_else(engine_services: Services, tmp_path: Path) -> None:
    engine = engine_services.engine
    photo = astronaut()
    params = Text2ImageParams(
        prompt="a face",
        batch_size=1,
        steps=2,
        width=64,
        height=64,
        seed=1,
        ADetailer={"args": [{"ad_denoising_strength": 1.0, "ad_mask_blur": 0, "ad_dilate_erode": 0}]},
    )
    resolved = engine.check(params)
    ctx = direct_context(Settings(data_dir=tmp_path))
    with engine.checkpoint(resolved.checkpoint) as loaded:
        generator = Generator(loaded, params, resolved, ctx, None, [], engine.upscalers)
        generator.seeds = [1]
        generator.embeds = encode_prompts(loaded.pipe, "a face", "", 1).as_kwargs()
        generator.progress = StepProgress(ctx, 1, loaded.family, (64, 64))
        images, count = redraw_faces(engine._face_detector(), generator, [photo])
    assert count == 1
    out = np.asarray(images[0]).astype(int)
    before = np.asarray(photo).astype(int)
    face = engine._face_detector().detect(photo, 0.3)[0]
    x, y, w, h = face.box
    changed = np.abs(out - before).max(axis=2) > 0
    assert changed[y + h // 2, x + w // 2]  # the face was re-drawn
    outside = np.ones(changed.shape, bool)
    outside[y : y + h, x : x + w] = False
    assert not changed[outside].any()  # nothing else moved


def test_out_of_memory_is_retried_once_then_reported(engine_services: Services) -> None:
    engine = engine_services.engine
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return "done"

    assert engine.with_memory_retry(flaky, "test") == "done" and len(calls) == 2

    def always() -> str:
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(ImgOpenError) as failed:
        engine.with_memory_retry(always, "generation 4096x4096")
    assert failed.value.code == "500" and "out of memory" in failed.value.msg and "4096x4096" in failed.value.msg
    with pytest.raises(ValueError, match="not memory"):
        engine.with_memory_retry(lambda: (_ for _ in ()).throw(ValueError("not memory")), "x")


def test_placement_on_this_machine() -> None:
    from imgopen.engine.device import choose_placement

    cpu = choose_placement("cpu")
    assert (cpu.device.type, cpu.dtype) == ("cpu", torch.float32)
    assert choose_placement("cpu", "fp32").dtype == torch.float32
    assert choose_placement("cpu", "bf16").dtype == torch.bfloat16
    if not torch.cuda.is_available():
        assert choose_placement().device.type == "cpu"


def test_inpaint_for_tools_keeps_the_outside_at_full_resolution(engine_services: Services, tmp_path: Path) -> None:
    from imgopen.engine.inpaint import InpaintJob

    photo = astronaut().resize((200, 150))
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (60, 40, 120, 90))
    ctx = direct_context(Settings(data_dir=tmp_path))
    job = InpaintJob(image=photo, mask=mask, prompt="grass", steps=2, seed=3, count=2, mask_blur=0, work_side=64)
    outcome = engine_services.engine.inpaint(job, ctx)
    assert outcome.seeds == [3, 4] and outcome.checkpoint.base_model == "SD 1.5"
    before = np.asarray(photo).astype(int)
    inside = np.asarray(mask) > 0
    for image in outcome.images:
        after = np.asarray(image).astype(int)
        assert image.size == (200, 150)
        assert np.array_equal(after[~inside], before[~inside])
        assert np.abs(after[inside] - before[inside]).mean() > 5
    with pytest.raises(ImgOpenError) as empty:
        engine_services.engine.inpaint(InpaintJob(image=photo, mask=Image.new("L", photo.size, 0), prompt="x"), ctx)
    assert empty.value.code == "400"
