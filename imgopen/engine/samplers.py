"""Automatic1111 sampler names -> diffusers schedulers.

Where diffusers has no exact twin the closest scheduler is used, and this table says so:
A1111's "DPM++ SDE" needs torchsde (not a dependency) and "DPM++ 2S a" has no diffusers
counterpart; both map to DPMSolverSinglestepScheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imgopen.errors import ImgOpenError


@dataclass(frozen=True)
class SamplerSpec:
    scheduler: str
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""


_KARRAS = {"use_karras_sigmas": True}
SAMPLERS: dict[str, SamplerSpec] = {
    "Euler a": SamplerSpec("EulerAncestralDiscreteScheduler"),
    "Euler": SamplerSpec("EulerDiscreteScheduler"),
    "LMS": SamplerSpec("LMSDiscreteScheduler"),
    "LMS Karras": SamplerSpec("LMSDiscreteScheduler", _KARRAS),
    "Heun": SamplerSpec("HeunDiscreteScheduler"),
    "DPM2": SamplerSpec("KDPM2DiscreteScheduler"),
    "DPM2 Karras": SamplerSpec("KDPM2DiscreteScheduler", _KARRAS),
    "DPM2 a": SamplerSpec("KDPM2AncestralDiscreteScheduler"),
    "DPM2 a Karras": SamplerSpec("KDPM2AncestralDiscreteScheduler", _KARRAS),
    "DPM++ 2M": SamplerSpec("DPMSolverMultistepScheduler"),
    "DPM++ 2M Karras": SamplerSpec("DPMSolverMultistepScheduler", _KARRAS),
    "DPM++ 2M SDE": SamplerSpec("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 2M SDE Karras": SamplerSpec("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", **_KARRAS}),
    "DPM++ SDE": SamplerSpec("DPMSolverSinglestepScheduler", note="approximation: A1111's needs torchsde"),
    "DPM++ SDE Karras": SamplerSpec(
        "DPMSolverSinglestepScheduler", _KARRAS, note="approximation: A1111's needs torchsde"
    ),
    "DPM++ 2S a": SamplerSpec("DPMSolverSinglestepScheduler", note="approximation: no ancestral singlestep here"),
    "DPM++ 2S a Karras": SamplerSpec(
        "DPMSolverSinglestepScheduler", _KARRAS, note="approximation: no ancestral singlestep here"
    ),
    "DDIM": SamplerSpec("DDIMScheduler"),
    "DDPM": SamplerSpec("DDPMScheduler"),
    "PLMS": SamplerSpec("PNDMScheduler", {"skip_prk_steps": True}),
    "UniPC": SamplerSpec("UniPCMultistepScheduler"),
    "DEIS": SamplerSpec("DEISMultistepScheduler"),
    "LCM": SamplerSpec("LCMScheduler"),
    "TCD": SamplerSpec("TCDScheduler"),
}
_BY_LOWER = {name.lower(): name for name in SAMPLERS}


def resolve_sampler(name: str | None, field_name: str = "sampler_name") -> str | None:
    """The canonical A1111 name (case-insensitive), None for "use the model's default"; "400"
    listing the valid names for anything else."""
    if name is None or not name.strip():
        return None
    canonical = _BY_LOWER.get(name.strip().lower())
    if canonical is None:
        raise ImgOpenError("400", f"{field_name}: unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")
    return canonical


def make_scheduler(name: str, base_config: Any) -> Any:
    """A scheduler of the named kind configured like the model's own (betas, steps offset...)."""
    import diffusers

    spec = SAMPLERS[name]
    scheduler_class = getattr(diffusers, spec.scheduler)
    options = dict(spec.options)
    if spec.scheduler == "DPMSolverMultistepScheduler" and options.get("algorithm_type") is None:
        options.setdefault("algorithm_type", "dpmsolver++")
    return scheduler_class.from_config(base_config, **options)
