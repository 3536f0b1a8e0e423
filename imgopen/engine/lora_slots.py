"""LoRAs on a compiled UNet / transformer: hot-swapped into slots, so that a LoRA change neither
recompiles the model nor reloads its base.

The i-th LoRA of a request goes into adapter slot i. A slot is padded to IMGOPEN_LORA_MAX_RANK and
its scalings are tensors (diffusers' enable_lora_hotswap, peft's prepare_model_for_compiled_hotswap),
so another LoRA's weights are copied into it in place (load_lora_weights(..., hotswap=True)) and a
weight change is a tensor fill: the compiled graph sees the same modules, shapes and guards. Slots
stay active; a slot a request does not use gets weight 0 (its output adds exactly nothing).

What recompiles, once per checkpoint: the first LoRA (it adds the adapter layers), a first second
simultaneous LoRA (a new slot), a LoRA of a rank above the padding, or one that targets layers the
slot does not have (it is loaded into the slot afresh). Each is logged.

Text encoders are not compiled: their part of a LoRA is loaded as an adapter of its own (one per
file, as on the eager path) and switched with set_adapters.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from imgopen.errors import ImgOpenError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotLora:
    """One LoRA of a request: its file, weight on the denoiser and on the text encoders."""

    key: str  # file identity: path and modification time
    path: str
    name: str  # for messages
    weight: float
    te_weight: float


@dataclass
class _Slot:
    adapter: str
    key: str | None = None  # the LoRA file in it
    base: dict[str, float] = field(default_factory=dict)  # module -> scaling of the file at weight 1
    # The LoRA layers holding this slot's adapter, found once per load: walking every module of a
    # UNet on each request would cost milliseconds per slot.
    modules: list[tuple[str, Any]] = field(default_factory=list)


class LoraSlots:
    def __init__(self, pipe: Any, denoiser_name: str, max_rank: int, text_encoders: tuple[str, ...]) -> None:
        self.pipe = pipe
        self.denoiser_name = denoiser_name  # "unet" or "transformer"
        self.max_rank = max_rank
        self.text_encoders = text_encoders
        self.slots: list[_Slot] = []
        self.text_adapters: dict[str, dict[str, str]] = {}  # LoRA key -> {text encoder: adapter}
        self.loads = 0  # LoRA files read into a slot
        self.fresh_loads = 0  # of which loaded afresh (a recompilation), not hot-swapped

    @property
    def denoiser(self) -> Any:
        return getattr(self.pipe, self.denoiser_name)

    # --- a request's LoRAs ------------------------------------------------------------------------
    def apply(self, loras: list[SlotLora]) -> None:
        loaded = False
        for index, lora in enumerate(loras):
            if index == len(self.slots):
                self.slots.append(_Slot(f"slot{index}"))
            slot = self.slots[index]
            if slot.key != lora.key:
                self._load(slot, lora)
                loaded = True
        if loaded:
            self._activate_all()
        for index, slot in enumerate(self.slots):
            self._scale(slot, loras[index].weight if index < len(loras) else 0.0)
        self._text_encoders(loras)

    def _activate_all(self) -> None:
        """Every slot active (a slot just added is not: peft keeps the adapters active before it), frozen.
        Set once per load, never per request: the compiled graph's guards see the same adapters."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        names = [slot.adapter for slot in self.slots]
        for module in self.denoiser.modules():
            if isinstance(module, BaseTunerLayer):
                module.set_adapter(names, inference_mode=True)

    def _scale(self, slot: _Slot, weight: float) -> None:
        for name, module in slot.modules:
            scaling = module.scaling[slot.adapter]
            value = slot.base.get(name, 0.0) * weight
            if isinstance(scaling, torch.Tensor):
                scaling.fill_(value)
            else:  # not prepared (cannot happen after _load): a float, which would recompile on change
                module.scaling[slot.adapter] = value

    def _lora_modules(self, adapter: str) -> list[tuple[str, Any]]:
        from peft.tuners.lora import LoraLayer

        return [
            (name, module)
            for name, module in self.denoiser.named_modules()
            if isinstance(module, LoraLayer) and adapter in module.scaling
        ]

    # --- loading into a slot ---------------------------------------------------------------------
    def _state(self, lora: SlotLora) -> tuple[dict[str, torch.Tensor], Any]:
        cls = type(self.pipe)
        try:
            if self.denoiser_name == "transformer":
                state, alphas = cls.lora_state_dict(lora.path, return_alphas=True)
            elif hasattr(self.pipe, "text_encoder_2"):
                state, alphas = cls.lora_state_dict(lora.path, unet_config=self.pipe.unet.config)
            else:
                state, alphas = cls.lora_state_dict(lora.path)
        except (ValueError, RuntimeError, KeyError, OSError) as exc:
            raise ImgOpenError("400", f"<lora:{lora.name}>: cannot read it: {exc}") from exc
        return dict(state), alphas

    def _load(self, slot: _Slot, lora: SlotLora) -> None:
        state, alphas = self._state(lora)
        denoiser_state = {k: v for k, v in state.items() if k.startswith(self.denoiser_name + ".")}
        if not denoiser_state:
            raise ImgOpenError("400", f"<lora:{lora.name}>: it has no weights for the {self.denoiser_name}")
        exists = slot.adapter in getattr(self.denoiser, "peft_config", {})
        if exists:
            try:
                self._load_denoiser(denoiser_state, alphas, slot.adapter, hotswap=True)
            except (ValueError, RuntimeError, KeyError) as exc:
                log.warning(
                    "<lora:%s> cannot be hot-swapped into %s (%s): loaded afresh; the model recompiles once",
                    lora.name,
                    slot.adapter,
                    exc,
                )
                self.denoiser.delete_adapters(slot.adapter)
                exists = False
        if not exists:
            if not getattr(self.denoiser, "peft_config", {}):
                # Before the first adapter: it gets padded and tensor scalings as it loads.
                self.denoiser.enable_lora_hotswap(target_rank=self.max_rank, check_compiled="ignore")
            try:
                self._load_denoiser(denoiser_state, alphas, slot.adapter, hotswap=False)
            except (ValueError, RuntimeError, KeyError) as exc:
                raise ImgOpenError("400", f"<lora:{lora.name}>: cannot apply it: {exc}") from exc
            self._prepare(slot.adapter)
            self.fresh_loads += 1
        self.loads += 1
        slot.key = lora.key
        slot.modules = self._lora_modules(slot.adapter)
        slot.base = {name: float(module.scaling[slot.adapter]) for name, module in slot.modules}
        self._load_text_parts(state, alphas, lora)

    def _load_denoiser(self, state: dict[str, torch.Tensor], alphas: Any, adapter: str, hotswap: bool) -> None:
        cls = type(self.pipe)
        loader = cls.load_lora_into_transformer if self.denoiser_name == "transformer" else cls.load_lora_into_unet
        kwargs = {self.denoiser_name: self.denoiser}
        loader(state, network_alphas=alphas, adapter_name=adapter, _pipeline=self.pipe, hotswap=hotswap, **kwargs)

    def _prepare(self, adapter: str) -> None:
        """Pad a new slot to the maximum rank and make its scalings tensors (the first slot got
        this from enable_lora_hotswap as it loaded; later ones get it here)."""
        from peft.utils.hotswap import prepare_model_for_compiled_hotswap

        config = self.denoiser.peft_config.get(adapter)
        try:
            prepare_model_for_compiled_hotswap(
                self.denoiser, target_rank=self.max_rank, config=config, check_compiled="ignore"
            )
        except ValueError as exc:  # a LoRA of a higher rank than the padding: it stays as it is
            log.warning("LoRA slot %s: not padded to rank %d (%s)", adapter, self.max_rank, exc)
            from peft.utils.hotswap import _convert_scalings_to_tensor

            _convert_scalings_to_tensor(self.denoiser)

    # --- text encoders (not compiled) ------------------------------------------------------------
    def _load_text_parts(self, state: dict[str, torch.Tensor], alphas: Any, lora: SlotLora) -> None:
        if lora.key in self.text_adapters:
            return
        adapters: dict[str, str] = {}
        cls = type(self.pipe)
        for name in self.text_encoders:
            encoder = getattr(self.pipe, name, None)
            if encoder is None or not any(k.startswith(name + ".") for k in state):
                continue
            adapter = "te_" + hashlib.sha1(lora.key.encode()).hexdigest()[:12]
            try:
                cls.load_lora_into_text_encoder(
                    state,
                    network_alphas=alphas,
                    text_encoder=encoder,
                    prefix=name,
                    adapter_name=adapter,
                    _pipeline=self.pipe,
                )
            except (ValueError, RuntimeError, KeyError) as exc:
                raise ImgOpenError("400", f"<lora:{lora.name}>: cannot apply it to {name}: {exc}") from exc
            adapters[name] = adapter
        self.text_adapters[lora.key] = adapters

    def _text_encoders(self, loras: list[SlotLora]) -> None:
        from diffusers.loaders.lora_base import (
            disable_lora_for_text_encoder,
            enable_lora_for_text_encoder,
            set_adapters_for_text_encoder,
        )

        for name in self.text_encoders:
            encoder = getattr(self.pipe, name, None)
            if encoder is None or not getattr(encoder, "peft_config", None):
                continue
            names, weights = [], []
            for lora in loras:
                adapter = self.text_adapters.get(lora.key, {}).get(name)
                if adapter is not None and adapter not in names:
                    names.append(adapter)
                    weights.append(lora.te_weight)
            if names:
                enable_lora_for_text_encoder(encoder)
                set_adapters_for_text_encoder(names, encoder, weights)
            else:
                disable_lora_for_text_encoder(encoder)
