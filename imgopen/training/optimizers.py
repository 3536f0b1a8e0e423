"""Optimizers by kohya's names. AdamW, SGD and Adafactor always; AdamW8bit needs bitsandbytes and
a GPU; Prodigy needs prodigyopt; Lion is written here (a small algorithm, Chen et al. 2023)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from imgopen.errors import ImgOpenError
from imgopen.training.optimizer_choices import check_available


class Lion(torch.optim.Optimizer):
    """Lion: the update is the sign of an interpolation of gradient and momentum."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(parameter)
                momentum = state["momentum"]
                parameter.mul_(1 - group["lr"] * group["weight_decay"])
                update = momentum.mul(beta1).add(parameter.grad, alpha=1 - beta1).sign_()
                parameter.add_(update, alpha=-group["lr"])
                momentum.mul_(beta2).add_(parameter.grad, alpha=1 - beta2)
        return loss


def make_optimizer(name: str, groups: list[dict[str, Any]], on_cuda: bool) -> torch.optim.Optimizer:
    check_available(name, on_cuda)
    if name == "AdamW":
        return torch.optim.AdamW(groups, weight_decay=1e-2)
    if name == "SGD":
        return torch.optim.SGD(groups, momentum=0.9)
    if name == "Lion":
        return Lion(groups)
    if name == "Adafactor":
        from transformers.optimization import Adafactor

        adafactor: torch.optim.Optimizer = Adafactor(
            groups, scale_parameter=False, relative_step=False, warmup_init=False
        )
        return adafactor
    if name == "AdamW8bit":
        import bitsandbytes  # type: ignore[import-not-found]

        optimizer: torch.optim.Optimizer = bitsandbytes.optim.AdamW8bit(groups)
        return optimizer
    if name == "Prodigy":
        import prodigyopt  # type: ignore[import-not-found]

        prodigy: torch.optim.Optimizer = prodigyopt.Prodigy(groups)
        return prodigy
    raise ImgOpenError("400", f"optimizerType: unknown optimizer {name!r}")
