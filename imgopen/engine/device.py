"""Where models run and in what precision, chosen per machine (overridable in the settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"


_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX, through oneDNN). There bf16 runs the
    SD 1.5 UNet at 512x512 about 2.3 times as fast as fp32 (measured on a 2-core EPYC with AVX512-BF16);
    elsewhere bf16 is emulated and slower than fp32."""
    try:
        mkldnn: Any = torch.backends.mkldnn
        return bool(mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def choose_placement(device: str = "auto", dtype: str = "auto", prefer_bf16: bool = False) -> Placement:
    """CUDA: fp16 (bf16 for models trained in it, such as Flux, where the GPU supports it);
    Apple MPS: fp16; CPU: fp32 (fp16 on a CPU is about ten times slower, measured here). bf16 on a CPU
    that computes it natively is about 1.8 times as fast (bench/real_size.py) but only on request
    (IMGOPEN_DTYPE=bf16): its 8-bit mantissa visibly changes images, and small effects such as a low
    initial_noise_multiplier at a late timestep vanish in it."""
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    chosen = torch.device(device)
    if dtype != "auto":
        return Placement(chosen, _DTYPES[dtype])
    if chosen.type == "cuda":
        bf16 = prefer_bf16 and torch.cuda.is_bf16_supported()
        return Placement(chosen, torch.bfloat16 if bf16 else torch.float16)
    if chosen.type == "mps":
        return Placement(chosen, torch.float16)
    return Placement(chosen, torch.float32)


def free_accelerator_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
