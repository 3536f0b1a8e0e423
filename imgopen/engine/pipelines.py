"""A loaded checkpoint and what a request switches on it: scheduler, VAE, LoRA adapters,
textual-inversion embeddings, and the img2img / inpaint / ControlNet pipelines derived from it
(`from_pipe` shares the weights: nothing is loaded twice)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from imgopen.catalog.catalog import ModelEntry
from imgopen.catalog.detect import FLUX_FAMILIES
from imgopen.engine.fast_path import FastState, denoiser_of, unfuse_for_lora
from imgopen.engine.lora_slots import LoraSlots, SlotLora
from imgopen.engine.resolve import INSTRUCT_PIX2PIX, LoraUse
from imgopen.engine.samplers import make_scheduler
from imgopen.errors import ImgOpenError

log = logging.getLogger(__name__)


@contextmanager
def _pinned(modules: list[Any]) -> Iterator[None]:
    """Within the block, `.to(...)` leaves these modules as they are."""
    for module in modules:
        module.to = lambda *_args, _module=module, **_kwargs: _module
    try:
        yield
    finally:
        for module in modules:
            del module.to


def derive_pipeline(factory: Any, pipe: Any, **extra: Any) -> Any:
    """`factory.from_pipe(pipe, **extra)` with every shared module left in its own dtype.

    from_pipe ends by casting the new pipeline, whose modules are `pipe`'s own, to one dtype (fp32
    unless told): a half-precision checkpoint turned fp32 in place at its first image2image or
    ControlNet request, twice slower from then on and at odds with a VAE override loaded in the
    model's dtype. So the cast goes to the denoiser's dtype (a no-op for the modules already in it),
    and a module kept in another dtype on purpose (the fast path's bf16 VAE) is left out of it."""
    import torch

    dtype = denoiser_of(pipe).dtype
    odd = [
        module
        for module in (*pipe.components.values(), *extra.values())
        if isinstance(module, torch.nn.Module) and getattr(module, "dtype", dtype) != dtype
    ]
    with _pinned(odd):
        derived = factory.from_pipe(pipe, dtype=dtype, **extra)
    derived.set_progress_bar_config(disable=True)
    return derived


@dataclass
class LoadedCheckpoint:
    entry: ModelEntry
    pipe: Any
    default_scheduler_config: Any
    default_vae: Any
    # The model's own scheduler class: pipe.scheduler is whatever the last request's sampler set.
    default_scheduler_class: Any = None
    adapters: dict[str, str] = field(default_factory=dict)  # LoRA file path -> adapter name
    embeddings: set[str] = field(default_factory=set)  # embedding file paths loaded
    variants: dict[str, Any] = field(default_factory=dict)
    # What the fast path did to the pipeline (None: nothing); on a compiled one, LoRAs go into slots.
    fast: FastState | None = None
    slots: LoraSlots | None = None
    # Deriving pipelines briefly pins modules (derive_pipeline): one derivation at a time.
    derive_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def wrap(
        cls, entry: ModelEntry, pipe: Any, fast: FastState | None = None, lora_max_rank: int = 128
    ) -> LoadedCheckpoint:
        loaded = cls(entry, pipe, pipe.scheduler.config, pipe.vae, type(pipe.scheduler), fast=fast)
        if fast is not None and fast.compiled:
            denoiser = "transformer" if loaded.is_flux else "unet"
            encoders = ("text_encoder",) if loaded.is_flux else ("text_encoder", "text_encoder_2")
            loaded.slots = LoraSlots(pipe, denoiser, lora_max_rank, encoders)
        return loaded

    @property
    def family(self) -> str:
        return self.entry.base_model

    @property
    def is_xl(self) -> bool:
        return self.entry.base_model == "SDXL 1.0"

    @property
    def is_flux(self) -> bool:
        return self.entry.base_model in FLUX_FAMILIES

    @property
    def is_instruct_pix2pix(self) -> bool:
        return self.entry.variant == INSTRUCT_PIX2PIX

    @property
    def is_flux_fill(self) -> bool:
        return self.is_flux and self.entry.variant == "inpainting"

    # --- derived pipelines ----------------------------------------------------------------------
    def variant(self, kind: str) -> Any:
        """The base pipeline ("text2image"), or an img2img / inpaint pipeline sharing its weights.
        instruct-pix2pix and Flux Fill checkpoints have one pipeline, for what they do (resolve.py
        refuses the rest)."""
        if kind == "text2image" or self.is_instruct_pix2pix or self.is_flux_fill:
            return self.pipe
        with self.derive_lock:
            if kind not in self.variants:
                import diffusers

                auto = {
                    "image2image": diffusers.AutoPipelineForImage2Image,
                    "inpaint": diffusers.AutoPipelineForInpainting,
                }[kind]
                self.variants[kind] = derive_pipeline(auto, self.pipe)
            return self.variants[kind]

    def controlnet_pipeline(self, kind: str, controlnet: Any) -> Any:
        """A ControlNet pipeline (text2image, image2image or inpaint) around this checkpoint."""
        import diffusers

        names = {
            ("text2image", False): "StableDiffusionControlNetPipeline",
            ("image2image", False): "StableDiffusionControlNetImg2ImgPipeline",
            ("inpaint", False): "StableDiffusionControlNetInpaintPipeline",
            ("text2image", True): "StableDiffusionXLControlNetPipeline",
            ("image2image", True): "StableDiffusionXLControlNetImg2ImgPipeline",
            ("inpaint", True): "StableDiffusionXLControlNetInpaintPipeline",
        }
        cls = getattr(diffusers, names[(kind, self.is_xl)])
        with self.derive_lock:
            return derive_pipeline(cls, self.pipe, controlnet=controlnet)

    # --- per-request state ----------------------------------------------------------------------
    def configure(self, pipe: Any, sampler: str | None, vae: Any | None) -> None:
        """A fresh scheduler (the sampler's, or the model's own) and the VAE (override or own).
        Flux always gets its own flow-matching Euler (resolve.py admits only the samplers that map to it)."""
        if sampler is None or self.is_flux:
            pipe.scheduler = self.default_scheduler_class.from_config(self.default_scheduler_config)
        else:
            pipe.scheduler = make_scheduler(sampler, self.default_scheduler_config)
        pipe.vae = vae if vae is not None else self.default_vae

    def apply_loras(self, loras: list[LoraUse]) -> None:
        """Load the LoRAs not loaded yet (as adapters: the base weights stay untouched), then
        activate exactly these with their weights; none requested: all adapters off. On a compiled
        model they are hot-swapped into slots instead (see lora_slots.py): no recompilation."""
        if loras and self.fast is not None:
            unfuse_for_lora(self.pipe, self.fast)
        if self.slots is not None:
            self._apply_slot_loras(loras)
            return
        for use in loras:
            key = str(use.entry.path)
            if key not in self.adapters:
                name = "lora_" + hashlib.sha1(f"{key}:{use.entry.mtime_ns}".encode()).hexdigest()[:12]
                try:
                    self.pipe.load_lora_weights(str(use.entry.path), adapter_name=name)
                except (ValueError, RuntimeError, KeyError) as exc:
                    raise ImgOpenError(
                        "400", f"<lora:{use.entry.stem}>: cannot apply it to {self.entry.name}: {exc}"
                    ) from exc
                self.adapters[key] = name
        if not loras:
            if self.adapters:
                self.pipe.disable_lora()
            return
        self.pipe.enable_lora()
        names = [self.adapters[str(use.entry.path)] for use in loras]
        denoiser = "transformer" if self.is_flux else "unet"
        text_encoders = ("text_encoder",) if self.is_flux else ("text_encoder", "text_encoder_2")
        weights: list[Any] = [
            use.weight
            if use.te_weight is None
            else {denoiser: use.weight, **dict.fromkeys(text_encoders, use.te_weight)}
            for use in loras
        ]
        if len(set(names)) != len(names):  # the same LoRA twice: A1111 adds the weights
            merged: dict[str, float] = {}
            for name, use in zip(names, loras, strict=True):
                merged[name] = merged.get(name, 0.0) + use.weight
            names, weights = list(merged), list(merged.values())
        self.pipe.set_adapters(names, adapter_weights=weights)

    def _apply_slot_loras(self, loras: list[LoraUse]) -> None:
        assert self.slots is not None
        merged: dict[str, SlotLora] = {}
        for use in loras:  # the same LoRA twice: A1111 adds the weights
            key = f"{use.entry.path}:{use.entry.mtime_ns}"
            te_weight = use.weight if use.te_weight is None else use.te_weight
            before = merged.get(key)
            if before is not None:
                merged[key] = SlotLora(
                    key, before.path, before.name, before.weight + use.weight, before.te_weight + te_weight
                )
            else:
                merged[key] = SlotLora(key, str(use.entry.path), use.entry.stem, use.weight, te_weight)
        try:
            self.slots.apply(list(merged.values()))
        except ImgOpenError as exc:
            raise ImgOpenError(exc.code, f"{exc.msg} (checkpoint {self.entry.name})") from exc
        self.adapters = {lora.path: f"slot{index}" for index, lora in enumerate(merged.values())}

    def load_embeddings(self, entries: list[ModelEntry]) -> None:
        """Textual inversions by name: loaded once, their token is the file name."""
        for entry in entries:
            key = str(entry.path)
            if key in self.embeddings:
                continue
            try:
                if self.is_xl:
                    self._load_xl_embedding(entry)
                else:
                    self.pipe.load_textual_inversion(key, token=entry.stem)
            except (ValueError, RuntimeError, KeyError) as exc:
                raise ImgOpenError(
                    "400", f"embedding {entry.stem}: cannot load it for {self.entry.name}: {exc}"
                ) from exc
            self.embeddings.add(key)

    def _load_xl_embedding(self, entry: ModelEntry) -> None:
        from safetensors.torch import load_file

        state = load_file(str(entry.path))
        if "clip_l" not in state or "clip_g" not in state:
            raise ValueError("an SDXL embedding has clip_l and clip_g vectors")
        pipe = self.pipe
        pipe.load_textual_inversion(
            state["clip_l"], token=entry.stem, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer
        )
        pipe.load_textual_inversion(
            state["clip_g"], token=entry.stem, text_encoder=pipe.text_encoder_2, tokenizer=pipe.tokenizer_2
        )
