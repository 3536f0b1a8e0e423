"""InstantID on diffusers' SDXL ControlNet pipeline (diffusers has no InstantID pipeline class).

What InstantID adds, and how it is put together here:
- the IP-Adapter: a Resampler turns the 512-number face embedding into 16 context tokens, and
  extra key/value projections in every cross-attention layer attend to them. Its file holds the
  `image_proj` (Resampler) and `ip_adapter` (projections) weights in the layout diffusers' IP-Adapter
  Plus loader reads, so `load_ip_adapter` builds both; the embedding goes in as
  `ip_adapter_image_embeds` (a zero embedding for the unconditional half, as InstantID does);
- IdentityNet: a ControlNet whose cross-attention sees the face tokens instead of the prompt. The
  stock pipeline hands the ControlNet the prompt's embeddings, so a forward pre-hook swaps in the
  face tokens (projected once per image by the loaded Resampler);
- the control image: the five keypoints drawn as IdentityNet was trained (keypoints.py).
The SDXL checkpoint is the engine's cached one: the adapter is loaded for the run and unloaded
after it, so the SD endpoints find the checkpoint as it was."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image

from imgopen.catalog.catalog import ModelEntry
from imgopen.engine.device import Placement
from imgopen.engine.generate import seeded_generators
from imgopen.engine.progress import StepProgress
from imgopen.engine.prompt_encoding import encode_prompts
from imgopen.engine.prompt_syntax import extract_networks
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.people.instant_id.weights import InstantIdFiles

AdapterState = dict[str, dict[str, torch.Tensor]]


@dataclass
class IdentityJob:
    prompt: str
    negative_prompt: str
    control: Image.Image  # the keypoint drawing, at the output size
    embedding: NDArray[np.float32]  # (512,) raw ArcFace embedding
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    identity_strength: float  # the IP-Adapter's scale
    control_strength: float  # IdentityNet's conditioning scale


def load_identity_net(folder: Path, placement: Placement) -> Any:
    import diffusers

    model = diffusers.ControlNetModel.from_pretrained(str(folder), dtype=placement.dtype, local_files_only=True)
    return model.to(placement.device)


def load_adapter_state(path: Path) -> AdapterState:
    """{"image_proj": ..., "ip_adapter": ...} from InstantID's .bin (tensors only: loaded without
    running pickled code) or a .safetensors with the same keys prefixed."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        flat = load_file(str(path))
        state: AdapterState = {"image_proj": {}, "ip_adapter": {}}
        for key, tensor in flat.items():
            group, _, name = key.partition(".")
            if group in state:
                state[group][name] = tensor
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not state.get("image_proj") or not state.get("ip_adapter"):
        raise ImgOpenError("503", f"{path} is not an InstantID IP-Adapter file (no image_proj / ip_adapter weights)")
    return state


def _face_context(tokens: torch.Tensor) -> Any:
    """A ControlNet pre-hook giving IdentityNet the face tokens as its cross-attention context."""

    def swap(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        batch = kwargs["encoder_hidden_states"].shape[0]
        context = tokens.repeat_interleave(max(1, batch // tokens.shape[0]), dim=0)
        return args, {**kwargs, "encoder_hidden_states": context.to(kwargs["encoder_hidden_states"].dtype)}

    return swap


def generate(
    engine: DiffusionEngine, entry: ModelEntry, files: InstantIdFiles, job: IdentityJob, ctx: TaskContext
) -> Image.Image:
    """One InstantID image (see the module's doc)."""
    net_key = f"instantid-controlnet:{files.controlnet}:{(files.controlnet / 'config.json').stat().st_mtime_ns}"
    controlnet = engine.cache.get(net_key, lambda: load_identity_net(files.controlnet, engine.placement)).value
    state = load_adapter_state(files.ip_adapter)
    prompt, tags = extract_networks(job.prompt)
    negative, negative_tags = extract_networks(job.negative_prompt)
    if tags or negative_tags:
        ctx.warn("LoRA tags in the instantID prompt are not applied")

    def paint() -> Image.Image:
        with engine.checkpoint(entry) as loaded:
            pipe = loaded.controlnet_pipeline("text2image", controlnet)
            loaded.configure(pipe, None, None)
            loaded.apply_loras([])
            try:
                try:
                    pipe.load_ip_adapter(state, subfolder="", weight_name="ip-adapter.bin", image_encoder_folder=None)
                except (KeyError, RuntimeError, ValueError) as exc:
                    raise ImgOpenError(
                        "503", f"{files.ip_adapter.name} does not fit the SDXL checkpoint {entry.name}: {exc}"
                    ) from exc
                pipe.set_ip_adapter_scale(job.identity_strength)
                return _denoise(pipe, loaded.family, controlnet, prompt, negative, job, ctx)
            finally:
                pipe.unload_ip_adapter()

    return engine.with_memory_retry(paint, f"instantID {job.width}x{job.height}")


def _denoise(
    pipe: Any, family: str, controlnet: Any, prompt: str, negative: str, job: IdentityJob, ctx: TaskContext
) -> Image.Image:
    unet = pipe.unet
    face = torch.from_numpy(job.embedding).to(unet.device, unet.dtype).reshape(1, 1, -1)
    guided = job.guidance > 1.0
    # (batch, images, tokens, width): one image of one token; the unconditional half sees zeros.
    faces = torch.cat([torch.zeros_like(face), face]) if guided else face
    embeds = faces[:, None]
    with torch.no_grad():
        tokens = unet.encoder_hid_proj.image_projection_layers[0](faces)
    hook = controlnet.register_forward_pre_hook(_face_context(tokens), with_kwargs=True)
    progress = StepProgress(ctx, job.steps, family, (job.width, job.height))
    try:
        output = pipe(
            **encode_prompts(pipe, prompt, negative).as_kwargs(),
            image=job.control,
            ip_adapter_image_embeds=[embeds],
            controlnet_conditioning_scale=job.control_strength,
            width=job.width,
            height=job.height,
            num_inference_steps=job.steps,
            guidance_scale=job.guidance,
            generator=seeded_generators([job.seed]),
            callback_on_step_end=progress.callback(),
            callback_on_step_end_tensor_inputs=["latents"],
        )
    finally:
        hook.remove()
    image: Image.Image = output.images[0]
    return image
