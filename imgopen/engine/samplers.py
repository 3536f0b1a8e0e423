"""Automatic1111 sampler names -> diffusers schedulers.

"DPM++ 2S a" has no diffusers counterpart: engine/schedulers.py implements k-diffusion's
algorithm. Where no exact twin exists the closest scheduler is used, and this table says so:
A1111's "DPM++ SDE" needs torchsde (not a dependency) for its Brownian-tree noise, and maps to
DPMSolverSinglestepScheduler. A task run with it says so in its warnings and in the images'
infotext (`approximation`).

Flux (flow matching) takes Euler only: its FlowMatchEulerDiscreteScheduler, configured as the
model ships it. "Euler a" runs as that same Euler (diffusers' Flux pipelines pass no generator to
the scheduler, so a stochastic flow sampler could not be seeded), and says so.
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
# Without commas or colons: it goes into the infotext as it is.
_SDE_NOTE = "approximated by DPM++ singlestep (the stochastic DPM++ SDE needs torchsde which is not installed)"
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
    "DPM++ SDE": SamplerSpec("DPMSolverSinglestepScheduler", note=_SDE_NOTE),
    "DPM++ SDE Karras": SamplerSpec("DPMSolverSinglestepScheduler", _KARRAS, note=_SDE_NOTE),
    "DPM++ 2S a": SamplerSpec("DPMSolverPlusPlus2SAncestralScheduler"),
    "DPM++ 2S a Karras": SamplerSpec("DPMSolverPlusPlus2SAncestralScheduler", _KARRAS),
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


def approximation(name: str | None) -> str | None:
    """How the sampler is approximated here, None when it runs as A1111's does."""
    if name is None:
        return None
    return SAMPLERS[name].note or None


# Samplers that apply to flow matching (Flux): each runs the model's own FlowMatchEulerDiscreteScheduler.
FLUX_SAMPLERS = ("Euler", "Euler a")


def check_flux_sampler(name: str | None, model: str) -> str | None:
    """A note when the sampler runs differently on Flux; "400" naming it when it cannot apply at all."""
    if name is None or name == "Euler":
        return None
    if name == "Euler a":
        return "sampler_name: Euler a runs as Euler on Flux (flow matching here has no ancestral variant)"
    raise ImgOpenError(
        "400",
        f"sampler_name: {name} does not apply to {model}, a Flux (flow matching) model; samplers that work with "
        f"Flux: {', '.join(FLUX_SAMPLERS)} (or none: the model's default)",
    )


def make_scheduler(name: str, base_config: Any) -> Any:
    """A scheduler of the named kind configured like the model's own (betas, steps offset...)."""
    import diffusers

    from imgopen.engine import schedulers

    spec = SAMPLERS[name]
    scheduler_class = getattr(diffusers, spec.scheduler, None) or getattr(schedulers, spec.scheduler)
    options = dict(spec.options)
    if spec.scheduler == "DPMSolverMultistepScheduler" and options.get("algorithm_type") is None:
        options.setdefault("algorithm_type", "dpmsolver++")
    return scheduler_class.from_config(base_config, **options)
