"""The super-resolution networks imgopen can load from `.pth` / `.safetensors` files, written here in
torch with the key names of the published weights (BasicSR / Real-ESRGAN):

- RRDBNet (ESRGAN, Real-ESRGAN x4plus and most community "4x-..." models): a residual-in-residual
  dense body, then nearest-neighbour x2 upsampling convolutions. Real-ESRGAN's x2 / x1 variants
  pixel-unshuffle their input first, so one 4x body serves every scale.
- SRVGGNetCompact (realesr-general-x4v3, realesr-animevideov3): a plain stack of 3x3 convolutions
  and PReLUs ending in a pixel shuffle, added to a nearest-neighbour enlargement of the input.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


class DenseBlock(nn.Module):
    """Five convolutions, each seeing the block input and every earlier output (RDB)."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, 1, 1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, 1, 1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, 1, 1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, 1, 1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            outputs.append(functional.leaky_relu(conv(torch.cat(outputs, 1)), 0.2))
        # Residuals are scaled down by 0.2: how ESRGAN keeps a 23-block body stable.
        result: torch.Tensor = self.conv5(torch.cat(outputs, 1)) * 0.2 + x
        return result


class ResidualInResidual(nn.Module):
    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x
        return result


class RRDBNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        features: int = 64,
        blocks: int = 23,
        growth: int = 32,
        upsamples: int = 2,
        unshuffle: int = 1,
    ) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        self.upsamples = upsamples
        self.conv_first = nn.Conv2d(in_channels * unshuffle * unshuffle, features, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualInResidual(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        for index in range(1, upsamples + 1):
            self.add_module(f"conv_up{index}", nn.Conv2d(features, features, 3, 1, 1))
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, out_channels, 3, 1, 1)

    @property
    def scale(self) -> float:
        return float(2**self.upsamples) / self.unshuffle

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (pixel unshuffle)."""
        return self.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = functional.pixel_unshuffle(x, self.unshuffle)
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for index in range(1, self.upsamples + 1):
            conv = getattr(self, f"conv_up{index}")
            enlarged = functional.interpolate(features, scale_factor=2, mode="nearest")
            features = functional.leaky_relu(conv(enlarged), 0.2)
        result: torch.Tensor = self.conv_last(functional.leaky_relu(self.conv_hr(features), 0.2))
        return result


class SRVGGNetCompact(nn.Module):
    """`layers` is the body as the state dict lists it: ("conv", in, out) or ("prelu", channels) or
    ("relu",) for an activation without weights (an index missing from the keys)."""

    def __init__(self, layers: list[tuple[str, int, int]], upscale: int) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        for kind, first, second in layers:
            if kind == "conv":
                modules.append(nn.Conv2d(first, second, 3, 1, 1))
            elif kind == "prelu":
                modules.append(nn.PReLU(num_parameters=first))
            else:
                modules.append(nn.ReLU())
        self.body = nn.Sequential(*modules)
        self.upscale = upscale

    @property
    def scale(self) -> float:
        return float(self.upscale)

    @property
    def multiple(self) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = functional.pixel_shuffle(self.body(x), self.upscale)
        return residual + functional.interpolate(x, scale_factor=self.upscale, mode="nearest")
