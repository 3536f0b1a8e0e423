"""The trained LoRA as kohya's sd-scripts write it: `lora_unet_*` / `lora_te*_` keys with
`.lora_down`, `.lora_up` and `.alpha`, and `ss_*` metadata describing the training."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

SAVE_DTYPES = {"float": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
BASE_VERSIONS = {"SD 1.5": "sd_v1", "SD 2.x": "sd_v2", "SDXL 1.0": "sdxl_base_v1-0"}


def kohya_state(
    unet_state: dict[str, torch.Tensor],
    text_states: dict[str, dict[str, torch.Tensor]],
    alpha: float,
    dtype: torch.dtype,
) -> dict[str, torch.Tensor]:
    """peft LoRA states (per model) -> kohya keys. `text_states` maps "text_encoder" /
    "text_encoder_2" to their peft states."""
    from diffusers.utils import convert_state_dict_to_kohya

    combined = {f"unet.{k}": v for k, v in unet_state.items()}
    for prefix, state in text_states.items():
        # transformers 5 dropped CLIPTextModel's `text_model.` level; A1111 and ComfyUI match kohya's
        # lora_te*_text_model_encoder_... names, so it is put back.
        combined.update({f"{prefix}.{_text_model(k)}": v for k, v in state.items()})
    kohya = convert_state_dict_to_kohya(combined)
    out: dict[str, torch.Tensor] = {}
    for key, value in kohya.items():
        # diffusers writes alpha = rank; the trained alpha is what sets the strength.
        tensor = torch.tensor(float(alpha)) if key.endswith(".alpha") else value
        out[key] = tensor.detach().to("cpu", dtype).contiguous()
    return out


def _text_model(key: str) -> str:
    return key if key.startswith("text_model.") else f"text_model.{key}"


def metadata(
    settings: dict[str, Any], tags: dict[str, int], base_model: str, name: str, trigger: str | None
) -> dict[str, str]:
    values: dict[str, Any] = {
        "ss_base_model_version": BASE_VERSIONS.get(base_model, base_model),
        "ss_output_name": name,
        "ss_tag_frequency": json.dumps({"1_dataset": tags}),
        "ss_training_finished_at": int(time.time()),
        "ss_network_module": "networks.lora",
        "ss_training_comment": "trained by imgopen",
        **{f"ss_{key}": value for key, value in settings.items()},
    }
    if trigger:
        values["ss_trigger_words"] = json.dumps([trigger])
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def write_lora(path: Path, state: dict[str, torch.Tensor], info: dict[str, str]) -> Path:
    """Written to a temporary name and renamed: the catalog never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".training-", suffix=".tmp")
    os.close(handle)
    save_file(state, temporary, metadata=info)
    os.replace(temporary, path)
    return path
