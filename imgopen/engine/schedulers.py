"""Schedulers diffusers lacks, written as diffusers schedulers (samplers.py names them).

DPM++ 2S a is k-diffusion's `sample_dpmpp_2s_ancestral` (what Automatic1111 runs; eta 1, r 1/2):
per step, one evaluation at sigma and one at the log-midpoint between sigma and the ancestral step's
sigma_down, a second-order exponential-integrator update to sigma_down from the second evaluation's
denoised estimate, then fresh noise times sigma_up. Its evaluation points, sigma_down and sigma_up
are those of DPM2 a, and its first half-step (an Euler step to the midpoint) is the same as DPM2 a's,
so it is KDPM2AncestralDiscreteScheduler with the second half-step replaced.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import KDPM2AncestralDiscreteScheduler
from diffusers.schedulers.scheduling_k_dpm_2_ancestral_discrete import KDPM2AncestralDiscreteSchedulerOutput
from diffusers.utils.torch_utils import randn_tensor


class DPMSolverPlusPlus2SAncestralScheduler(KDPM2AncestralDiscreteScheduler):  # type: ignore[misc]
    def step(
        self,
        model_output: torch.Tensor,
        timestep: float | torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        if self.state_in_first_order:
            # x_2 = (sigma_s / sigma) x - expm1(-h / 2) denoised: exactly the Euler step to sigma_s.
            return super().step(model_output, timestep, sample, generator=generator, return_dict=return_dict)
        if self.step_index is None:
            self._init_step_index(timestep)
        sigma = self.sigmas[self.step_index - 1]
        sigma_mid = self.sigmas_interpol[self.step_index - 1]
        sigma_up = self.sigmas_up[self.step_index - 1]
        sigma_down = self.sigmas_down[self.step_index - 1]
        if self.config.prediction_type == "epsilon":
            denoised = sample - sigma_mid * model_output
        elif self.config.prediction_type == "v_prediction":
            denoised = model_output * (-sigma_mid / (sigma_mid**2 + 1) ** 0.5) + sample / (sigma_mid**2 + 1)
        else:
            raise ValueError(f"DPM++ 2S a: prediction_type {self.config.prediction_type} is not supported")
        start: torch.Tensor = getattr(self, "sample")  # noqa: B009 (diffusers' untyped attribute)
        self.sample = None
        # x = (sigma_down / sigma) x - expm1(-h) denoised_2, h = log(sigma / sigma_down).
        ratio = sigma_down / sigma
        prev_sample = ratio * start + (1 - ratio) * denoised
        noise = randn_tensor(
            model_output.shape, dtype=model_output.dtype, device=model_output.device, generator=generator
        )
        prev_sample = prev_sample + noise * sigma_up
        self._step_index += 1
        if not return_dict:
            return prev_sample, denoised
        return KDPM2AncestralDiscreteSchedulerOutput(prev_sample=prev_sample, pred_original_sample=denoised)
