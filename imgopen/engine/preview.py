"""Live previews: latents turned into a rough RGB picture without running the VAE.

SD and SDXL latents map to RGB nearly linearly; the coefficients below are least-squares fits
of latent channels to the decoded colours (widely published for these VAEs). Other latent
spaces (Flux's 16 channels, test models) get a per-image projection on their three main
components, which shows composition and contrast though not true colours.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image

_SD15 = torch.tensor(
    [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]]
)
_SDXL = torch.tensor(
    [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]]
)
_SDXL_BIAS = torch.tensor([0.1084, -0.0175, -0.0011])


def latents_to_rgb(latents: torch.Tensor, family: str) -> NDArray[np.uint8]:
    """(C, H, W) latents -> (H, W, 3) uint8."""
    latents = latents.detach().float().cpu()
    channels = latents.shape[0]
    flat = latents.reshape(channels, -1).T  # (pixels, channels)
    if channels == 4 and family in ("SD 1.5", "SD 2.x"):
        rgb = flat @ _SD15
    elif channels == 4 and family == "SDXL 1.0":
        rgb = flat @ _SDXL + _SDXL_BIAS
    else:
        rgb = _principal_components(flat)
    rgb = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return np.asarray(rgb.reshape(latents.shape[1], latents.shape[2], 3).numpy(), dtype=np.uint8)


def _principal_components(flat: torch.Tensor) -> torch.Tensor:
    centred = flat - flat.mean(dim=0, keepdim=True)
    _u, _s, v = torch.linalg.svd(centred, full_matrices=False)
    projected = centred @ v[:3].T
    if projected.shape[1] < 3:
        projected = torch.nn.functional.pad(projected, (0, 3 - projected.shape[1]))
    scale = projected.abs().amax(dim=0, keepdim=True).clamp_min(1e-6)
    normalised: torch.Tensor = projected / scale
    return normalised


def preview_image(latents: torch.Tensor, family: str, size: tuple[int, int], max_side: int = 256) -> Image.Image:
    """A small preview of the first image of a batch, at most `max_side` pixels on its long side."""
    rgb = Image.fromarray(latents_to_rgb(latents, family))
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return rgb.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR)
