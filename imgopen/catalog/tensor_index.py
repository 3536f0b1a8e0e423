"""The names and shapes of a model file's tensors, read without loading the weights.

Detection works on structure alone, so this is all it needs: a `.safetensors` header (a few KB of
JSON at the start of a 2-24 GB file), or the pickle of a `.ckpt`/`.pt`/`.pth`/`.bin` memory-mapped
so that no tensor data is read. Pickles are loaded with `weights_only=True`: a file that needs code
to unpickle (a custom class, a function call) is refused, never run.
"""

from __future__ import annotations

import json
import pickle
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAFETENSORS_SUFFIXES = (".safetensors", ".sft")
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")

# Wrappers around the state dict, outermost first: Lightning checkpoints keep it in "state_dict";
# BasicSR / Real-ESRGAN upscalers in "params_ema" (preferred) or "params".
_STATE_DICT_KEYS = ("state_dict", "params_ema", "params")
# The components of a diffusers pipeline whose configs say what the model is.
_SCHEDULER_CONFIG = "scheduler_config.json"


class ModelFileError(ValueError):
    """The file cannot be read as a model: corrupt, truncated, of an unknown type, or unsafe."""


@dataclass(frozen=True)
class TensorIndex:
    """Tensor name -> shape, and the safetensors `__metadata__` ({} for other formats)."""

    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str]


def read_tensor_index(path: Path) -> TensorIndex:
    """The tensor names and shapes of a weights file, without reading the weights."""
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return _read_safetensors_header(path)
    if suffix in PICKLE_SUFFIXES:
        return _read_pickle_index(path)
    raise ModelFileError(f"{path.name}: unsupported model file type {suffix or '(none)'!r}")


def _read_safetensors_header(path: Path) -> TensorIndex:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            names = handle.keys()  # a safe_open handle is not iterable
            shapes = {key: tuple(int(n) for n in handle.get_slice(key).get_shape()) for key in names}
            metadata = handle.metadata() or {}
    except Exception as exc:  # SafetensorError (a plain Exception subclass) for bad headers, OSError for missing files
        raise ModelFileError(f"{path.name}: not a readable safetensors file: {exc}") from exc
    return TensorIndex(shapes=shapes, metadata={str(k): str(v) for k, v in metadata.items()})


def _read_pickle_index(path: Path) -> TensorIndex:
    loaded = _torch_load_weights_only(path)
    state = _unwrap_state_dict(loaded, path)
    shapes = _flatten_shapes(state)
    if not shapes:
        raise ModelFileError(f"{path.name}: holds no tensors")
    return TensorIndex(shapes=shapes, metadata={})


class _LightningClassStandIn:
    """Stands in for a PyTorch Lightning class that 2022-era checkpoints (sd-v1-4.ckpt...) name as a dict
    key of their "callbacks": the reference resolves to this inert class, Lightning's code is never run."""


_NUMERIC_NUMPY_DTYPES = (
    "BoolDType",
    *(f"{kind}{bits}DType" for kind in ("Int", "UInt") for bits in (8, 16, 32, 64)),
    *(f"Float{bits}DType" for bits in (16, 32, 64)),
    "Complex64DType",
    "Complex128DType",
)


def _harmless_globals() -> list[Any]:
    """What Lightning checkpoints pickle besides tensors: numpy numbers (the step count, best score) and
    Lightning's callback class as a key. No object dtypes: those could smuggle anything."""
    import importlib

    import numpy as np

    scalar = importlib.import_module("numpy._core.multiarray").scalar
    return [
        (_LightningClassStandIn, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
        (_LightningClassStandIn, "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint"),
        (scalar, "numpy.core.multiarray.scalar"),  # the name numpy 1.x wrote
        scalar,
        np.dtype,
        *(getattr(np.dtypes, name) for name in _NUMERIC_NUMPY_DTYPES),
    ]


_allowed_lock = threading.Lock()
_allowed = False


def _allow_harmless_globals() -> None:
    """Registered once, for the whole process: torch keeps the allowlist in one global set, and its
    `safe_globals` context manager would remove the entries under another thread's load."""
    global _allowed  # noqa: PLW0603 - once per process
    with _allowed_lock:
        if not _allowed:
            import torch

            torch.serialization.add_safe_globals(_harmless_globals())
            _allowed = True


def _torch_load_weights_only(path: Path) -> Any:
    """torch.load restricted to tensors, plain containers and _harmless_globals(), memory-mapped where the
    format allows."""
    import torch

    _allow_harmless_globals()
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            # Files written before PyTorch 1.6 (and non-zip files) cannot be memory-mapped: read them whole.
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(f"{path.name}: refused: {_unpickling_reason(exc)}") from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path.name}: not a readable PyTorch file: {_first_line(str(exc))}") from exc


def _unpickling_reason(exc: pickle.UnpicklingError) -> str:
    """torch's weights-only refusal is a paragraph; keep the line that names the offending global."""
    message = str(exc)
    for line in message.splitlines():
        if "GLOBAL" in line or "Unsupported" in line:
            return f"it needs code to load (safe loading only allows tensors): {line.strip()}"
    if "Weights only load failed" in message:
        return "it needs code to load (safe loading only allows tensors)"
    return f"not a readable PyTorch file: {_first_line(message)}"


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"


def _unwrap_state_dict(loaded: Any, path: Path) -> Mapping[str, Any]:
    if not isinstance(loaded, Mapping):
        raise ModelFileError(f"{path.name}: holds a {type(loaded).__name__}, not a dict of tensors")
    for key in _STATE_DICT_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, Mapping):
            return inner
    return loaded


def _flatten_shapes(tree: Mapping[str, Any], prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Dotted names of the tensors in nested dicts (A1111 embeddings: `string_to_param.*`);
    other values (step counts, names, hashes) are not tensors and are left out."""
    import torch

    shapes: dict[str, tuple[int, ...]] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            shapes[name] = tuple(int(n) for n in value.shape)
        elif isinstance(value, Mapping):
            shapes.update(_flatten_shapes(value, name + "."))
    return shapes


def read_diffusers_folder(path: Path) -> dict[str, Any]:
    """A diffusers folder's description: its parsed `model_index.json` (a pipeline) or `config.json`
    (one component: a ControlNet, a VAE, a UNet), with each listed component's entry replaced by its
    parsed config (`unet/config.json`, `transformer/config.json`, `text_encoder*/config.json`,
    `vae/config.json`, `scheduler/scheduler_config.json`) where the folder has one."""
    model_index = path / "model_index.json"
    if model_index.is_file():
        description = _read_json_object(model_index)
        for name, entry in list(description.items()):
            config = _component_config(path / name) if _is_component_entry(entry) else None
            if config is not None:
                description[name] = config
        return description
    config_file = path / "config.json"
    if config_file.is_file():
        return _read_json_object(config_file)
    raise ModelFileError(f"{path.name}: not a diffusers folder (no model_index.json or config.json)")


def _is_component_entry(entry: Any) -> bool:
    """model_index.json lists components as ["library", "ClassName"]; [null, null] is an absent one."""
    return isinstance(entry, list) and len(entry) == 2 and entry[1] is not None


def _component_config(folder: Path) -> dict[str, Any] | None:
    for name in ("config.json", _SCHEDULER_CONFIG):
        if (folder / name).is_file():
            return _read_json_object(folder / name)
    return None


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path.parent.name}/{path.name}: unreadable JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ModelFileError(f"{path.parent.name}/{path.name}: expected a JSON object")
    return parsed
