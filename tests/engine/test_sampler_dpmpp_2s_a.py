"""DPM++ 2S a is k-diffusion's algorithm: the scheduler, driven as a diffusers pipeline drives it,
matches `sample_dpmpp_2s_ancestral` (transcribed below) step for step on a toy denoiser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from imgopen.engine.samplers import SAMPLERS, approximation, make_scheduler

SD_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "timestep_spacing": "leading",
}


def toy_eps(x_in: torch.Tensor) -> torch.Tensor:
    """A smooth, non-linear noise prediction (of the scaled input, as a UNet sees it)."""
    return torch.tanh(x_in) * 0.7 + 0.1 * x_in.roll(1, dims=-1)


def k_diffusion_dpmpp_2s_ancestral(
    denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigmas: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """k_diffusion.sampling.sample_dpmpp_2s_ancestral with eta=1, s_noise=1 and randn noise."""

    def sigma_fn(t: torch.Tensor) -> torch.Tensor:
        return t.neg().exp()

    def t_fn(sigma: torch.Tensor) -> torch.Tensor:
        return sigma.log().neg()

    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        sigma_up = torch.minimum(
            sigmas[i + 1], (sigmas[i + 1] ** 2 * (sigmas[i] ** 2 - sigmas[i + 1] ** 2) / sigmas[i] ** 2) ** 0.5
        )
        sigma_down = (sigmas[i + 1] ** 2 - sigma_up**2) ** 0.5
        if sigma_down == 0:
            x = x + (x - denoised) / sigmas[i] * (sigma_down - sigmas[i])
        else:
            t, t_next = t_fn(sigmas[i]), t_fn(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_2 = (sigma_fn(s) / sigma_fn(t)) * x - (-h / 2).expm1() * denoised
            denoised_2 = denoiser(x_2, sigma_fn(s))
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + torch.randn(x.shape, generator=generator, dtype=x.dtype) * sigma_up
    return x


def run_as_a_pipeline(scheduler: object, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    for timestep in scheduler.timesteps:  # type: ignore[attr-defined]
        eps = toy_eps(scheduler.scale_model_input(x, timestep))  # type: ignore[attr-defined]
        x = scheduler.step(eps, timestep, x, generator=generator).prev_sample  # type: ignore[attr-defined]
    return x


@pytest.mark.parametrize("name", ["DPM++ 2S a", "DPM++ 2S a Karras"])
def test_dpmpp_2s_ancestral_is_k_diffusions(name: str) -> None:
    assert approximation(name) is None
    scheduler = make_scheduler(name, SD_CONFIG)
    scheduler.set_timesteps(8)
    sigmas = torch.cat([scheduler.sigmas[:1], scheduler.sigmas[1:-1:2]]).double()
    assert len(sigmas) == 9 and sigmas[-1] == 0
    start = torch.randn((1, 4, 6, 6), generator=torch.Generator().manual_seed(1)) * sigmas[0]

    def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return x - sigma * toy_eps(x / (sigma**2 + 1) ** 0.5)

    expected = k_diffusion_dpmpp_2s_ancestral(denoiser, start.double(), sigmas, torch.Generator().manual_seed(2))
    got = run_as_a_pipeline(scheduler, start.double(), torch.Generator().manual_seed(2))
    assert torch.allclose(got, expected, atol=1e-6), (got - expected).abs().max()
    # DPM2 a shares its evaluation points, not its update: a different image.
    dpm2 = make_scheduler("DPM2 a Karras" if "Karras" in name else "DPM2 a", SD_CONFIG)
    dpm2.set_timesteps(8)
    other = run_as_a_pipeline(dpm2, start.double(), torch.Generator().manual_seed(2))
    assert (other - expected).abs().max() > 1e-3


def test_only_dpmpp_sde_is_still_an_approximation() -> None:
    approximate = [name for name in SAMPLERS if approximation(name)]
    assert approximate == ["DPM++ SDE", "DPM++ SDE Karras"]
