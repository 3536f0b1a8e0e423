"""The fast path (IMGOPEN_COMPILE): what each device and setting gets, and that none of it changes
a request's images beyond floating-point noise: channels-last, fused QKV, torch.compile (here with
dynamo's aot_eager / eager backends: the real graph capture, no C++ build; inductor's numerics are
checked on one small module), LoRAs hot-swapped on a compiled UNet without a recompilation (counted),
a VAE in another dtype, and the NaN guard. All of it on the CPU with the tiny models.

Tolerance: at most 2 of 255 on any pixel (fp32 sums taken in another order; measured: 0 or 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import open_database
from imgopen.engine import device
from imgopen.engine.device import Placement, choose_placement
from imgopen.engine.fast_path import COMPILATIONS, SpeedPlan, prepare_vae, speed_plan, wrap_vae
from imgopen.engine.generate import Generator
from imgopen.engine.params import Text2ImageParams
from imgopen.engine.service import DiffusionEngine
from imgopen.testing.direct import direct_context
from imgopen.testing.images import astronaut

TOLERANCE = 2
CPU32 = Placement(torch.device("cpu"), torch.float32)
CUDA16 = Placement(torch.device("cuda"), torch.float16)


def make_engine(
    root: Path, models: Path, compile: str = "off", backend: str = "aot_eager", **extra: Any
) -> DiffusionEngine:
    settings = Settings(
        data_dir=root, models_dir=models, database_url="sqlite://", compile=compile, dtype="fp32", **extra
    )
    engine = DiffusionEngine(ModelCatalog(models.resolve(), open_database(settings), 0), settings)
    engine.compile_backend = backend
    return engine


def images(engine: DiffusionEngine, root: Path, prompt: str = "a red cat", **fields: Any) -> list[np.ndarray]:
    """A text2image request's images straight from the engine (nothing saved)."""
    body: dict[str, Any] = {
        "prompt": prompt,
        "batch_size": 1,
        "steps": 3,
        "width": 64,
        "height": 64,
        "seed": 11,
        "sd_model_checkpoint": "tiny-sd15",
        **fields,
    }
    params = Text2ImageParams.model_validate(body)
    resolved = engine.check(params)
    ctx = direct_context(engine.settings)
    with engine.checkpoint(resolved.checkpoint) as loaded:
        loaded.apply_loras(resolved.loras)
        loaded.load_embeddings(resolved.embeddings)
        out = Generator(loaded, params, resolved, ctx, None, [], engine.upscalers).run()
    return [np.asarray(image, np.int16) for image in out]


def close(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.abs(x - y).max() <= TOLERANCE for x, y in zip(a, b, strict=True))


# --- what runs where ---------------------------------------------------------------------------------
def test_the_plan_per_device_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert speed_plan("off", CPU32) == SpeedPlan()
    cpu_auto = speed_plan("auto", CPU32)
    assert cpu_auto.channels_last and cpu_auto.fuse_qkv and not cpu_auto.compiles  # what paid on the CPU
    assert speed_plan("max", CPU32).compile_denoiser and speed_plan("max", CPU32).compile_vae
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (9, 0))
    gpu = speed_plan("auto", CUDA16)
    assert gpu.compile_denoiser and gpu.compile_vae and gpu.fuse_qkv and gpu.channels_last
    assert gpu.vae_dtype == torch.bfloat16 and gpu.nan_guard and gpu.compile_mode is None and not gpu.fp8
    assert speed_plan("max", CUDA16).compile_mode == "max-autotune"
    try:
        import torchao  # noqa: F401

        has_torchao = True
    except ImportError:
        has_torchao = False
    assert speed_plan("max", CUDA16, flux=True).fp8 == has_torchao  # import-guarded
    assert not speed_plan("max", CUDA16, flux=False).fp8
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert speed_plan("auto", CUDA16).vae_dtype is None  # fp16 VAE, guarded (T4-class GPUs)


def test_cpu_dtype_is_fp32_unless_bf16_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    assert choose_placement("cpu").dtype == torch.float32  # bf16 changes images: only on request
    assert choose_placement("cpu", "bf16").dtype == torch.bfloat16


# --- same images --------------------------------------------------------------------------------------
def test_compiled_channels_last_fused_path_gives_the_eager_images(tmp_path: Path, tiny_models: Path) -> None:
    eager = make_engine(tmp_path / "a", tiny_models)
    fast = make_engine(tmp_path / "b", tiny_models, compile="max")
    # Everything on, as on a GPU (the CPU's plan does not compile).
    fast.speed_plan = lambda entry: SpeedPlan(  # type: ignore[method-assign]
        channels_last=True, fuse_qkv=True, compile_denoiser=True, compile_vae=True, backend="aot_eager"
    )
    for checkpoint in ("tiny-sd15", "tiny-sdxl"):
        reference = images(eager, tmp_path, sd_model_checkpoint=checkpoint, batch_size=2)
        assert close(images(fast, tmp_path, sd_model_checkpoint=checkpoint, batch_size=2), reference), checkpoint
    with fast.checkpoint(fast.catalog.require("checkpoint", "tiny-sdxl", "")) as loaded:
        unet = loaded.pipe.unet
        assert loaded.fast is not None and loaded.fast.fused and loaded.fast.compiled
        assert unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
        assert unet._compiled_call_impl is not None and loaded.pipe.vae.decoder._compiled_call_impl is not None
        assert any("Fused" in type(p).__name__ for p in unet.attn_processors.values())


def test_inductor_code_gives_the_eager_numbers() -> None:
    """Inductor itself (C++ code built here; cached on disk afterwards) on a block of the UNet's shape."""
    from diffusers.models.attention import BasicTransformerBlock

    torch.manual_seed(0)
    block = BasicTransformerBlock(32, 4, 8, cross_attention_dim=32).eval()
    x, context = torch.randn(2, 64, 32), torch.randn(2, 77, 32)
    with torch.no_grad():
        expected = block(x, encoder_hidden_states=context)
        block.compile()
        got = block(x, encoder_hidden_states=context)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4)


# --- LoRAs on a compiled model ----------------------------------------------------------------------------
def test_lora_swaps_on_a_compiled_unet_neither_recompile_nor_reload(tmp_path: Path, tiny_models: Path) -> None:
    eager = make_engine(tmp_path / "a", tiny_models)
    fast = make_engine(tmp_path / "b", tiny_models, compile="max", backend="eager")
    prompts = [
        "a red cat <lora:tiny-style:0.6> <lora:tiny-detail:0.5>",  # two slots: the first compilations
        "a red cat <lora:tiny-style:0.3>",  # a weight change, one slot unused (weight 0)
        "a red cat <lora:tiny-detail:0.8>",  # another file hot-swapped into slot 0
        "a red cat",  # no LoRA: both slots at weight 0
        "a red cat <lora:tiny-detail:0.4> <lora:tiny-style:0.7>",  # both swapped, in the other slots
    ]
    start = COMPILATIONS.count
    images(fast, tmp_path, "a red cat")  # compiled without LoRAs
    assert COMPILATIONS.count > start, "the UNet was not compiled"
    loads = fast.cache.loads
    for index, prompt in enumerate(prompts):
        if index == 1:
            compiled = COMPILATIONS.count
        got = images(fast, tmp_path, prompt)
        assert close(got, images(eager, tmp_path, prompt)), prompt
    assert COMPILATIONS.count == compiled, "a LoRA change recompiled the UNet"
    assert fast.cache.loads == loads, "a LoRA change reloaded the checkpoint"
    with fast.checkpoint(fast.catalog.require("checkpoint", "tiny-sd15", "")) as loaded:
        assert loaded.slots is not None and len(loaded.slots.slots) == 2 and loaded.slots.fresh_loads == 2


def test_warm_up_compiles_the_configured_sizes(tmp_path: Path, tiny_models: Path) -> None:
    engine = make_engine(
        tmp_path, tiny_models, compile="max", backend="eager", warmup_sizes="64x64", default_checkpoint="tiny-sd15"
    )
    assert engine.warm_up() == [(64, 64)]
    before = COMPILATIONS.count
    images(engine, tmp_path)
    assert COMPILATIONS.count == before
    assert make_engine(tmp_path, tiny_models).warm_up() == []  # none configured


# --- the VAE --------------------------------------------------------------------------------------------
def pipeline_images(pipe: Any, **extra: Any) -> np.ndarray:
    out = pipe(
        "a red cat", num_inference_steps=3, width=64, height=64, generator=torch.Generator().manual_seed(3), **extra
    ).images[0]
    return np.asarray(out, np.int16)


def test_a_vae_in_another_dtype_serves_text2image_and_image2image(tiny_models: Path) -> None:
    from diffusers import AutoPipelineForImage2Image, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models / "checkpoints" / "tiny-sd15"))
    pipe.set_progress_bar_config(disable=True)
    init = astronaut().resize((64, 64))
    i2i = AutoPipelineForImage2Image.from_pipe(pipe)
    plain, plain_i2i = pipeline_images(pipe), pipeline_images(i2i, image=init, strength=0.6)
    prepare_vae(pipe.vae, SpeedPlan(vae_dtype=torch.bfloat16, nan_guard=True))
    assert pipe.vae.dtype == torch.bfloat16 and pipe.unet.dtype == torch.float32
    # bf16 decodes with 8 mantissa bits: close to fp32, not equal.
    assert np.abs(pipeline_images(pipe) - plain).mean() < 3
    assert np.abs(pipeline_images(i2i, image=init, strength=0.6) - plain_i2i).mean() < 3


def test_nan_from_a_half_decode_is_decoded_again_in_fp32(tiny_models: Path) -> None:
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(str(tiny_models / "checkpoints" / "tiny-sd15"), subfolder="vae")
    latents = torch.randn(1, 4, 8, 8)
    vae.to(torch.bfloat16)
    vae.to(torch.float32)  # the redo runs on the bf16 weights in fp32 (no fp32 copy is kept): so does this
    with torch.no_grad():
        expected = vae.decode(latents).sample
    vae.to(torch.bfloat16)
    inner: Callable[..., Any] = vae.decode

    def overflowing(z: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        output = inner(z, *args, **kwargs)
        if z.dtype == torch.bfloat16:
            output.sample[:] = float("nan")  # what an fp16 overflow gives
        return output

    vae.decode = overflowing
    wrap_vae(vae, nan_guard=True)
    with torch.no_grad():
        got = vae.decode(latents).sample
    assert torch.isfinite(got).all() and torch.allclose(got, expected, atol=1e-5)
    assert vae.dtype == torch.bfloat16  # back to its dtype for the next image


def test_flux_lora_swaps_on_a_compiled_transformer_do_not_recompile(tmp_path: Path, tiny_models: Path) -> None:
    """The transformer branch of the LoRA slots (Flux): the same images as eager, no recompilation."""
    from imgopen.testing.tiny_models import flux_pipeline, save_flux_lora

    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    (models / "flux").symlink_to(tiny_models / "flux", target_is_directory=True)
    save_flux_lora(flux_pipeline(seed=0).transformer, models / "loras" / "tiny-flux-style.safetensors", seed=9)
    eager = make_engine(tmp_path / "a", models)
    fast = make_engine(tmp_path / "b", models, compile="max", backend="eager")
    flux = {"sd_model_checkpoint": "tiny-flux-dev", "cfg_scale": 1, "sampler_name": "Euler"}
    before = COMPILATIONS.count
    images(fast, tmp_path, "a red cat <lora:tiny-flux-style:0.6>", **flux)  # compiled, the slot made
    compiled = COMPILATIONS.count
    assert compiled > before, "the transformer was not compiled"
    for prompt in ("a red cat <lora:tiny-flux-style:0.3>", "a red cat", "a red cat <lora:tiny-flux-style:0.9>"):
        got = images(fast, tmp_path, prompt, **flux)
        assert close(got, images(eager, tmp_path, prompt, **flux)), prompt
    assert COMPILATIONS.count == compiled, "a LoRA change recompiled the transformer"
    with_lora = images(fast, tmp_path, "a red cat <lora:tiny-flux-style:0.9>", **flux)
    assert not close(with_lora, images(fast, tmp_path, "a red cat", **flux)), "the LoRA changed nothing"


# --- derived pipelines ------------------------------------------------------------------------------------
@pytest.mark.parametrize("odd_vae", [False, True], ids=["bf16-model", "fp32-model-bf16-vae"])
def test_derived_pipelines_leave_every_module_in_its_dtype(tmp_path: Path, tiny_models: Path, odd_vae: bool) -> None:
    """diffusers' from_pipe casts the modules it shares to fp32 unless told: a bf16 (or fp16) model
    turned fp32 in place at its first ControlNet request. Neither the model nor a VAE kept in
    another dtype on purpose may change."""
    from diffusers import ControlNetModel, StableDiffusionPipeline

    from imgopen.engine.pipelines import LoadedCheckpoint

    dtype = torch.float32 if odd_vae else torch.bfloat16
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models / "checkpoints" / "tiny-sd15"), dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    if odd_vae:
        prepare_vae(pipe.vae, SpeedPlan(vae_dtype=torch.bfloat16, nan_guard=True))
    before = {name: m.dtype for name, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    assert before["unet"] == dtype and before["vae"] == torch.bfloat16
    engine = make_engine(tmp_path, tiny_models)
    params = Text2ImageParams.model_validate({"prompt": "x", "batch_size": 1, "sd_model_checkpoint": "tiny-sd15"})
    entry = engine.check(params).checkpoint
    loaded = LoadedCheckpoint.wrap(entry, pipe)
    controlnet = ControlNetModel.from_pretrained(str(tiny_models / "controlnet" / "tiny-control-sd15"), dtype=dtype)
    derived = [
        loaded.variant("image2image"),
        loaded.variant("inpaint"),
        loaded.controlnet_pipeline("text2image", controlnet),
    ]
    after = {name: m.dtype for name, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    assert after == before
    assert controlnet.dtype == dtype
    assert all(d.unet is pipe.unet and d.vae is pipe.vae for d in derived)  # shared, not copied
    # And they run: the ControlNet pipeline draws in the model's dtype with the VAE in its own.
    control = astronaut().resize((64, 64))
    out = derived[2]("a red cat", image=control, num_inference_steps=2, width=64, height=64).images[0]
    assert out.size == (64, 64)
