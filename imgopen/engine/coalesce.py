"""Coalesced generation: compatible text2image requests (same checkpoint, size, steps, sampler, CFG,
LoRAs, VAE and clip skip; any prompts and seeds) run as one denoising batch.

Each request keeps what it would have had alone: its own prompt embeddings and seeded generators
(diffusers draws each image's noise from its own generator, so the latents are the same), its own
progress and previews, its own skip (its images are decoded as they stand, the batch goes on) and
its own cancel (its task ends at once; the batch goes on without it, and stops when no one is left).
The only difference from running alone is the batch dimension of the UNet, which changes nothing
beyond floating-point noise (tests/engine/test_coalesce.py compares the pixels).

Requests whose prompts encode to a different number of 77-token chunks cannot share a tensor:
they run as consecutive sub-batches under the same hold of the model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from imgopen.engine.generate import decode_latents, seeded_generators
from imgopen.engine.params import Text2ImageParams
from imgopen.engine.pipelines import LoadedCheckpoint
from imgopen.engine.progress import StepProgress
from imgopen.engine.prompt_encoding import PromptEmbeds, encode_prompts
from imgopen.engine.resolve import Resolved
from imgopen.engine.results import SdResult
from imgopen.tasks.context import TaskCancelled, TaskContext

if TYPE_CHECKING:
    from imgopen.engine.service import DiffusionEngine

log = logging.getLogger(__name__)

Outcome = SdResult | BaseException
MemberDone = Callable[[int, Outcome], None]


def batch_key(params: Text2ImageParams, resolved: Resolved, mode: str) -> str | None:
    """What must be equal for requests to share a denoising batch; None: this one runs alone (image
    inputs, ControlNet, hires fix, ADetailer, several iterations, Flux, instruct-pix2pix)."""
    if (
        mode != "text2image"
        or type(params) is not Text2ImageParams
        or params.n_iter != 1
        or params.enable_hr
        or (params.ADetailer is not None and params.ADetailer.args)
        or resolved.is_flux
        or resolved.is_instruct_pix2pix
        or resolved.controlnets
    ):
        return None
    entry = resolved.checkpoint
    loras = sorted((str(use.entry.path), use.entry.mtime_ns, use.weight, use.te_weight) for use in resolved.loras)
    return json.dumps(
        {
            "checkpoint": [str(entry.path), entry.mtime_ns],
            "vae": [str(resolved.vae.path), resolved.vae.mtime_ns] if resolved.vae else None,
            "loras": loras,
            "size": [params.width, params.height],
            "steps": params.steps,
            "sampler": params.sampler_name,
            "cfg": params.cfg_scale,
            "clip_skip": params.clip_skip,
        },
        sort_keys=True,
    )


class _BatchAbandoned(Exception):
    """Every member of a running batch has ended (cancelled, skipped, lease lost): stop computing."""


@dataclass
class Member:
    index: int  # in the caller's list
    params: Text2ImageParams
    ctx: TaskContext
    resolved: Resolved
    seeds: list[int] = field(default_factory=list)
    embeds: PromptEmbeds | None = None
    progress: StepProgress | None = None
    ended: bool = False  # its outcome is reported


class BatchRun:
    """One batch of compatible requests on a held checkpoint."""

    def __init__(self, engine: DiffusionEngine, loaded: LoadedCheckpoint, members: list[Member], done: MemberDone):
        self.engine = engine
        self.loaded = loaded
        self.members = members
        self.done = done
        self.first = members[0]
        self.size = (self.first.params.width, self.first.params.height)

    def end(self, member: Member, outcome: Outcome) -> None:
        if not member.ended:
            member.ended = True
            self.done(member.index, outcome)

    def run(self) -> None:
        params, resolved = self.first.params, self.first.resolved
        vae = self.engine.vae(resolved.vae, resolved.checkpoint) if resolved.vae else None
        self.loaded.apply_loras(resolved.loras)
        embeddings = {str(e.path): e for member in self.members for e in member.resolved.embeddings}
        self.loaded.load_embeddings(list(embeddings.values()))
        pipe = self.loaded.variant("text2image")
        self.loaded.configure(pipe, params.sampler_name, vae)
        groups: dict[tuple[int, ...], list[Member]] = {}
        for member in self.members:
            if member.ended:
                continue
            member.seeds = member.params.seeds()
            member.embeds = encode_prompts(
                pipe, member.resolved.prompt, member.resolved.negative_prompt, member.params.clip_skip
            )
            member.progress = StepProgress(member.ctx, params.steps, self.loaded.family, self.size)
            groups.setdefault(tuple(member.embeds.prompt_embeds.shape), []).append(member)
        for group in groups.values():
            live = [member for member in group if not member.ended]
            if live:
                self._denoise(pipe, live)

    def _denoise(self, pipe: Any, group: list[Member]) -> None:
        params = self.first.params
        counts = [member.params.batch_size for member in group]
        embeds: dict[str, torch.Tensor] = {}
        for name in (
            "prompt_embeds",
            "negative_prompt_embeds",
            "pooled_prompt_embeds",
            "negative_pooled_prompt_embeds",
        ):
            parts = [getattr(member.embeds, name) for member in group]
            if parts[0] is not None:
                embeds[name] = torch.cat(
                    [part.repeat_interleave(count, dim=0) for part, count in zip(parts, counts, strict=True)]
                )
        seeds = [seed for member in group for seed in member.seeds]
        starts = [sum(counts[:position]) for position in range(len(group))]
        steps: dict[int, Any] = {id(member): member.progress.callback() for member in group if member.progress}

        def on_step(pipe_: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            latents = tensors["latents"]
            for member, start, count in zip(group, starts, counts, strict=True):
                if member.ended:
                    continue
                part = latents[start : start + count]
                if member.ctx.consume_skip():  # A1111's skip: this request's images as they stand
                    self._finish(member, decode_latents(pipe_, part, self.size, False), skipped=True)
                    continue
                try:
                    steps[id(member)](pipe_, step, timestep, {"latents": part})
                except TaskCancelled as exc:  # cancelled, lease lost or shutting down: ends now, alone
                    self.end(member, exc)
            if all(member.ended for member in group):
                raise _BatchAbandoned()
            return tensors

        try:
            output = pipe(
                **embeds,
                width=self.size[0],
                height=self.size[1],
                num_inference_steps=params.steps,
                guidance_scale=params.cfg_scale,
                num_images_per_prompt=1,
                generator=seeded_generators(seeds),
                output_type="pil",
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=["latents"],
            )
        except _BatchAbandoned:
            return
        images: list[Image.Image] = list(output.images)
        for member, start, count in zip(group, starts, counts, strict=True):
            if not member.ended:
                self._finish(member, images[start : start + count], skipped=False)

    def _finish(self, member: Member, images: list[Image.Image], skipped: bool) -> None:
        try:
            outcome: Outcome = self.engine.result(
                self.loaded,
                member.params,
                member.resolved,
                member.ctx,
                images,
                member.seeds,
                self.size,
                list(range(len(images))) if skipped else [],
                batch_tasks=len(self.members),
            )
        except Exception as exc:
            outcome = exc
        self.end(member, outcome)
