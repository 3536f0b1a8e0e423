"""The fast path of generation (IMGOPEN_COMPILE): what a loaded pipeline gets on top of diffusers
as it comes, chosen per device by what pays there.

- channels-last memory format for the UNet / transformer and the VAE (convolutions run in NHWC);
- fused QKV projections (`fuse_qkv_projections`), while no LoRA is applied (a LoRA targets the
  separate q, k and v layers: the first one unfuses them);
- torch.compile of the UNet / transformer and the VAE decoder, its code cached on disk
  (TORCHINDUCTOR_CACHE_DIR under the data folder) so that a restart compiles from the cache;
- on a GPU, the VAE in bf16 where the GPU has bf16 (no overflow, so no NaN and no fp32 upcast),
  and a guard that decodes again in fp32 should a half-precision decode still give NaNs;
- fp8 weights for Flux's transformer on GPUs with fp8 (compute capability 8.9+) when torchao is
  installed (import-guarded: nothing needs it);
- LoRAs on a compiled model are hot-swapped (engine/lora_slots.py): no recompilation, no reload.

Measured on the CPU of this project's machines (2-core EPYC with AVX512-BF16, SD 1.5 at 512x512):
fused QKV projections make the fp32 UNet step about 1.09x as fast (6.07 s against 6.65 s, batch 2
with CFG; pure fp32, the same sums grouped in one matrix product), so `auto` fuses on a CPU too.
torch.compile does not pay in bf16 (the UNet step is the same with or without it, and compiling
takes minutes). In fp32, inductor with `freezing` (weights folded in as constants, convolutions
pre-packed) made the UNet step 1.14x as fast (9.3 s against 10.6 s, after 2.7 minutes of compiling,
1 minute from the cache), but frozen weights are what a LoRA hot-swap must change, so it is not
used. `auto` leaves compilation off on a CPU; `max` turns it on anywhere. None of this changes
what a request produces beyond floating-point noise (tests/engine/test_fast_path.py).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch

from imgopen.engine.device import Placement

log = logging.getLogger(__name__)

CompileSetting = Literal["off", "auto", "max"]


@dataclass(frozen=True)
class SpeedPlan:
    """What the fast path does to a pipeline."""

    channels_last: bool = False
    fuse_qkv: bool = False
    compile_denoiser: bool = False
    compile_vae: bool = False
    compile_mode: str | None = None  # torch.compile's mode (None: its default)
    backend: str = "inductor"  # torch.compile's backend (tests count compilations with "eager")
    vae_dtype: torch.dtype | None = None  # the VAE's dtype when it differs from the model's (GPU)
    nan_guard: bool = False  # decode again in fp32 when a half-precision decode gives NaNs
    fp8: bool = False  # Flux's transformer in fp8 (torchao)

    @property
    def compiles(self) -> bool:
        return self.compile_denoiser or self.compile_vae

    def describe(self) -> str:
        parts = [
            name
            for name, on in (
                ("channels-last", self.channels_last),
                ("fused-qkv", self.fuse_qkv),
                (f"compiled({self.compile_mode or 'default'})", self.compile_denoiser),
                ("compiled-vae", self.compile_vae),
                ("fp8", self.fp8),
            )
            if on
        ]
        if self.vae_dtype is not None:
            parts.append(f"vae-{str(self.vae_dtype).removeprefix('torch.')}")
        return "+".join(parts) or "eager"


def speed_plan(setting: CompileSetting, placement: Placement, flux: bool = False) -> SpeedPlan:
    """What pays on this device. GPU: everything (max: max-autotune, fp8 for Flux). CPU: channels-
    last and fused QKV under auto; max adds torch.compile (it did not pay here, measured: see the
    module doc)."""
    if setting == "off":
        return SpeedPlan()
    if placement.is_cuda:
        vae_dtype = None
        if placement.dtype == torch.float16 and torch.cuda.is_bf16_supported():
            vae_dtype = torch.bfloat16
        return SpeedPlan(
            channels_last=True,
            fuse_qkv=True,
            compile_denoiser=True,
            compile_vae=True,
            compile_mode="max-autotune" if setting == "max" else None,
            vae_dtype=vae_dtype,
            nan_guard=placement.dtype == torch.float16,
            fp8=setting == "max" and flux and fp8_available(placement),
        )
    plan = SpeedPlan(channels_last=True, fuse_qkv=True)
    if setting == "max":
        plan = replace(plan, compile_denoiser=True, compile_vae=True)
    return plan


def fp8_available(placement: Placement) -> bool:
    """A GPU with fp8 tensor cores (Ada, Hopper and later) and torchao installed."""
    if not placement.is_cuda or torch.cuda.get_device_capability(placement.device) < (8, 9):
        return False
    try:
        importlib.import_module("torchao.quantization")
    except ImportError:
        return False
    return True


# --- compilations, counted --------------------------------------------------------------------------
class CompileCounter:
    """How many times torch.compile compiled anything in this process (recompilations included): a
    LoRA swap or a new request on a warm compiled model must leave it unchanged."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._registered = False

    def _started(self, *_args: Any) -> None:
        with self._lock:
            self._count += 1

    def register(self) -> None:
        with self._lock:
            if self._registered:
                return
            self._registered = True
        from torch._dynamo.callback import callback_handler

        callback_handler.register_start_callback(self._started)

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


COMPILATIONS = CompileCounter()


def use_compile_cache(folder: Path) -> None:
    """Compiled kernels and graphs on disk (inductor's FX graph and autotuning caches), so a
    restarted worker loads them instead of compiling again. An operator's own
    TORCHINDUCTOR_CACHE_DIR wins."""
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    with contextlib.suppress(ImportError, AttributeError):
        import torch._inductor.config as inductor_config

        inductor_config.fx_graph_cache = True


def configure_dynamo() -> None:
    """Room for the graphs a worker keeps per model: sizes, batch sizes (coalesced requests),
    pipelines (text2image, ControlNet residuals) each make one."""
    import torch._dynamo

    config: Any = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name):
            setattr(config, name, max(64, int(getattr(config, name))))


# --- applying a plan -------------------------------------------------------------------------------
@dataclass
class FastState:
    """What the fast path did to one pipeline (kept with the loaded checkpoint)."""

    plan: SpeedPlan
    fused: bool = False  # QKV projections fused now

    @property
    def compiled(self) -> bool:
        return self.plan.compile_denoiser


def denoiser_of(pipe: Any) -> Any:
    return getattr(pipe, "transformer", None) or pipe.unet


def apply_fast_path(pipe: Any, plan: SpeedPlan) -> FastState:
    """Apply `plan` to a freshly loaded pipeline (before any LoRA). Steps that fail on some model
    (an architecture without fusable attention, a backend missing) are logged and skipped: the
    pipeline then runs as it came, never wrongly."""
    state = FastState(plan)
    if not any((plan.channels_last, plan.fuse_qkv, plan.compiles, plan.vae_dtype, plan.fp8, plan.nan_guard)):
        return state
    denoiser = denoiser_of(pipe)
    vae = getattr(pipe, "vae", None)
    if plan.fp8:
        _quantize_fp8(denoiser)
    if plan.channels_last:
        denoiser.to(memory_format=torch.channels_last)
        if vae is not None:
            vae.to(memory_format=torch.channels_last)
    if plan.fuse_qkv and hasattr(pipe, "fuse_qkv_projections"):
        try:
            pipe.fuse_qkv_projections()
            state.fused = True
        except (AttributeError, ValueError, RuntimeError) as exc:
            log.info("fused QKV projections not available for %s: %s", type(pipe).__name__, exc)
    if vae is not None:
        prepare_vae(vae, plan)
    if plan.compile_denoiser:
        COMPILATIONS.register()
        configure_dynamo()
        denoiser.compile(mode=plan.compile_mode, backend=plan.backend)
    return state


def prepare_vae(vae: Any, plan: SpeedPlan) -> None:
    """A VAE (the checkpoint's or an override) for the plan: dtype, memory format, compiled
    decoder, NaN guard. Idempotent."""
    if getattr(vae, "_imgopen_fast", None) == plan:
        return
    if plan.vae_dtype is not None:
        vae.to(plan.vae_dtype)
        # No fp32 upcast for a bf16 VAE: bf16 has fp32's range, so it does not overflow into NaN.
        if plan.vae_dtype == torch.bfloat16 and getattr(vae.config, "force_upcast", False):
            vae.register_to_config(force_upcast=False)
    if plan.channels_last:
        vae.to(memory_format=torch.channels_last)
    if plan.compile_vae:
        COMPILATIONS.register()
        configure_dynamo()
        vae.decoder.compile(mode=plan.compile_mode, backend=plan.backend)
    if plan.vae_dtype is not None or plan.nan_guard:
        wrap_vae(vae, nan_guard=plan.nan_guard)
    vae._imgopen_fast = plan


def _is_finite(output: Any) -> bool:
    sample = output[0] if isinstance(output, tuple) else output.sample
    return bool(torch.isfinite(sample).all())


def wrap_vae(vae: Any, nan_guard: bool) -> None:
    """A VAE whose dtype may differ from the pipeline's: inputs cast to the VAE's dtype, encodings
    back to the caller's. With `nan_guard`, a half-precision decode that gives NaN or inf (SD's VAEs
    overflow fp16 on some latents) is done again in fp32 (then the VAE goes back to its dtype)."""
    if getattr(vae, "_imgopen_wrapped", False):
        return
    decode, encode = vae.decode, vae.encode

    def decode_cast(latents: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        output = decode(latents.to(vae.dtype), *args, **kwargs)
        dtype = vae.dtype
        if nan_guard and dtype in (torch.float16, torch.bfloat16) and not _is_finite(output):
            log.warning("the VAE gave NaN or inf in %s; this image is decoded again in fp32", dtype)
            vae.to(torch.float32)
            try:
                output = decode(latents.float(), *args, **kwargs)
            finally:
                vae.to(dtype)
        return output

    def encode_cast(images: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        output = encode(images.to(vae.dtype), *args, **kwargs)
        if images.dtype == vae.dtype:
            return output
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        if isinstance(output, tuple):
            dist = output[0]
            return (DiagonalGaussianDistribution(dist.parameters.to(images.dtype), dist.deterministic), *output[1:])
        dist = output.latent_dist
        output.latent_dist = DiagonalGaussianDistribution(dist.parameters.to(images.dtype), dist.deterministic)
        return output

    vae.decode = decode_cast
    vae.encode = encode_cast
    vae._imgopen_wrapped = True


def _quantize_fp8(denoiser: Any) -> None:
    """Flux's linear layers in fp8 (weights and dynamic activations), through torchao."""
    try:
        quantization: Any = importlib.import_module("torchao.quantization")
        recipe = quantization.float8_dynamic_activation_float8_weight()
    except (ImportError, AttributeError):  # checked by fp8_available; a torchao without these names: skip
        log.info("torchao has no float8 quantization here; Flux stays in its dtype")
        return
    quantization.quantize_(denoiser, recipe)


def unfuse_for_lora(pipe: Any, state: FastState) -> None:
    """LoRAs target q, k and v apart: undo the fused projections before the first one."""
    if state.fused:
        pipe.unfuse_qkv_projections()
        state.fused = False


def sizes_of(values: list[str]) -> list[tuple[int, int]]:
    """ "512x512" -> (512, 512) (the settings' warm-up sizes, already checked)."""
    out = []
    for value in values:
        width, _, height = value.partition("x")
        out.append((int(width), int(height)))
    return out
