"""Per-step progress of a generation, with a live preview decoded cheaply from the latents."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from imgopen.engine.preview import preview_image
from imgopen.tasks.context import TaskContext

PREVIEW_SECONDS = 1.0


class StepProgress:
    """Counts denoising steps over all passes of a task (iterations, hires fix, ADetailer) and
    reports them; every second or so it also stores a preview of the current latents."""

    def __init__(self, ctx: TaskContext, total_steps: int, family: str, size: tuple[int, int]) -> None:
        self._ctx = ctx
        self.total = max(1, total_steps)
        self.done = 0
        self._family = family
        self._size = size
        self._started = time.monotonic()
        self._last_preview = 0.0
        self._preview_key: str | None = None

    def plan(self, more_steps: int) -> None:
        """Work found on the way (faces for ADetailer) joins the total."""
        self.total += max(0, more_steps)

    def callback(self, unpack: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Any:
        """A `callback_on_step_end` for a diffusers pipeline call."""

        def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.done += 1
            latents = tensors.get("latents")
            now = time.monotonic()
            if latents is not None and now - self._last_preview >= PREVIEW_SECONDS:
                self._last_preview = now
                self._store_preview(unpack(latents) if unpack else latents)
            self._report(force=False)
            return tensors

        return on_step

    def _store_preview(self, latents: torch.Tensor) -> None:
        image = preview_image(latents[0], self._family, self._size)
        self._preview_key = self._ctx.save_image(image, name="preview", fmt="jpeg", parameters="", quality=80)

    def _report(self, force: bool) -> None:
        elapsed = time.monotonic() - self._started
        done = min(self.done, self.total)
        eta = elapsed / done * (self.total - done) if done else None
        info = {
            "step": done,
            "totalSteps": self.total,
            "etaSeconds": round(eta, 1) if eta is not None else None,
            "previewKey": self._preview_key,
        }
        self._ctx.progress(0.02 + 0.96 * done / self.total, info, force=force)
