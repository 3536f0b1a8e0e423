"""Per-step progress of a generation, with a live preview decoded cheaply from the latents, and
A1111's skip: a skip the caller requested ends the running pipeline call at this step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from imgopen.engine.preview import preview_image
from imgopen.tasks.context import TaskContext

PREVIEW_SECONDS = 1.0


class PassSkipped(Exception):
    """A skip in a pipeline that cannot be interrupted: the latents of the step it ended at."""

    def __init__(self, latents: Any) -> None:
        super().__init__("skipped")
        self.latents = latents


class StepProgress:
    """Counts denoising steps over all passes of a task (iterations, hires fix, ADetailer) and
    reports them; every second or so it also stores a preview of the current latents."""

    def __init__(
        self, ctx: TaskContext, total_steps: int, family: str, size: tuple[int, int], skips: bool = False
    ) -> None:
        self._ctx = ctx
        self._skips = skips  # honour A1111's skip (the SD generation does; the tools run on)
        self.total = max(1, total_steps)
        self.done = 0
        self._family = family
        self._size = size
        self._started = time.monotonic()
        self._last_preview = 0.0
        self._preview_key: str | None = None
        self._skipped = False

    def take_skip(self) -> bool:
        """Whether a skip ended the last pipeline call early (then cleared)."""
        skipped, self._skipped = self._skipped, False
        return skipped

    def skip_steps(self, steps: int) -> None:
        """Steps planned that a skip left out: counted as done, so the total stays reachable."""
        self.done += max(0, steps)

    def plan(self, more_steps: int) -> None:
        """Work found on the way (faces for ADetailer) joins the total."""
        self.total += max(0, more_steps)

    def callback(self, unpack: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Any:
        """A `callback_on_step_end` for a diffusers pipeline call."""

        def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.done += 1
            latents = tensors.get("latents")
            interrupted = self._skips and self._ctx.consume_skip() and self._skip(pipe, step)
            now = time.monotonic()
            if latents is not None and now - self._last_preview >= PREVIEW_SECONDS:
                self._last_preview = now
                self._store_preview(unpack(latents) if unpack else latents)
            self._report(force=False)
            if interrupted is None:
                raise PassSkipped(latents)  # a pipeline that cannot be interrupted: the caller decodes
            return tensors

        return on_step

    def _skip(self, pipe: Any, step: int) -> bool | None:
        """End the pipeline call at this step: its images are the latents as they stand. True: the
        pipeline was told to stop (diffusers' interrupt); None: it cannot be (instruct-pix2pix)."""
        self._skipped = True
        self.skip_steps(int(getattr(pipe, "_num_timesteps", 0) or 0) - step - 1)
        if isinstance(getattr(type(pipe), "interrupt", None), property):
            pipe._interrupt = True  # the loop runs no more steps, then decodes
            return True
        return None

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
