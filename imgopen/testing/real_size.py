"""Random-weight models of the published sizes, without downloads: SD 1.5 and SDXL (and the Flux.1
transformer), built from the configs imgopen ships, written as Automatic1111 single files and as
diffusers folders, and cached on disk between runs.

They make no pictures (the weights are random) but cost what the real ones cost: the same layers,
shapes, attention lengths and bytes. Benchmarks measure seconds per image on them.

Flux.1 at its real size (12B parameters, 24 GB in bf16) does not fit a small machine's memory: its
transformer is written tensor by tensor into one safetensors file (BFL's layout, as the published
`flux1-dev.safetensors`), so building it needs memory for one tensor only; running it needs a
machine that holds the model.

Usage: python -m imgopen.testing.real_size [sd15|sdxl|flux ...] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from imgopen.engine.tokenizers import materialize_config
from imgopen.testing.tiny_models import clip_to_ldm, unet_to_ldm, vae_to_ldm

# Bump when what a builder writes changes: cached copies with another stamp are rebuilt.
BUILD_VERSION = 1
KINDS = ("sd15", "sdxl")
_STAMP = ".imgopen-real-size"


def default_cache() -> Path:
    """IMGOPEN_BENCH_CACHE, else ~/.cache/imgopen-bench."""
    return Path(os.environ.get("IMGOPEN_BENCH_CACHE") or "~/.cache/imgopen-bench").expanduser()


# --- pipelines of the published shapes ------------------------------------------------------------
def _components(config: Path) -> dict[str, Any]:
    import diffusers
    import transformers

    parts: dict[str, Any] = {
        "unet": diffusers.UNet2DConditionModel.from_config(diffusers.UNet2DConditionModel.load_config(config / "unet")),
        "vae": diffusers.AutoencoderKL.from_config(diffusers.AutoencoderKL.load_config(config / "vae")),
        "text_encoder": transformers.CLIPTextModel(
            transformers.CLIPTextConfig.from_pretrained(config / "text_encoder")
        ),
        "tokenizer": transformers.CLIPTokenizer.from_pretrained(config / "tokenizer"),
    }
    scheduler_config = json.loads((config / "scheduler" / "scheduler_config.json").read_text())
    parts["scheduler"] = getattr(diffusers, scheduler_config["_class_name"]).from_config(scheduler_config)
    return parts


def sd15_pipeline(config_cache: Path, seed: int = 0) -> Any:
    """Stable Diffusion 1.5 (860M UNet, CLIP ViT-L/14, the KL VAE), random weights, fp32."""
    import diffusers

    torch.manual_seed(seed)
    parts = _components(materialize_config("sd15", config_cache))
    return diffusers.StableDiffusionPipeline(
        **parts, safety_checker=None, feature_extractor=None, image_encoder=None, requires_safety_checker=False
    )


def sdxl_pipeline(config_cache: Path, seed: int = 0) -> Any:
    """SDXL 1.0 base (2.6B UNet, CLIP ViT-L and OpenCLIP bigG, the KL VAE), random weights, fp32."""
    import diffusers
    import transformers

    torch.manual_seed(seed)
    config = materialize_config("sdxl_base", config_cache)
    parts = _components(config)
    parts["text_encoder_2"] = transformers.CLIPTextModelWithProjection(
        transformers.CLIPTextConfig.from_pretrained(config / "text_encoder_2")
    )
    parts["tokenizer_2"] = transformers.CLIPTokenizer.from_pretrained(config / "tokenizer_2")
    return diffusers.StableDiffusionXLPipeline(**parts, image_encoder=None, feature_extractor=None)


# --- Automatic1111 single files --------------------------------------------------------------------
def open_clip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A transformers CLIPTextModelWithProjection -> OpenCLIP's layout (SDXL's second text encoder):
    q, k and v in one in_proj, the projection transposed. The inverse of diffusers'
    convert_open_clip_checkpoint."""
    renames = [
        ("text_model.encoder.layers.", "transformer.resblocks."),
        ("layer_norm1", "ln_1"),
        ("layer_norm2", "ln_2"),
        (".mlp.fc1.", ".mlp.c_fc."),
        (".mlp.fc2.", ".mlp.c_proj."),
        (".self_attn.", ".attn."),
    ]
    top = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.endswith("position_ids"):
            continue
        if key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
            continue
        if key in top:
            out[prefix + top[key]] = value
            continue
        new = key
        for old, replacement in renames:
            new = new.replace(old, replacement)
        for part in ("q", "k", "v"):
            marker = f".attn.{part}_proj."
            if marker in new:
                base, kind = new.split(marker)
                qkv.setdefault(f"{base}.attn.in_proj_{kind}", {})[part] = value
                break
        else:
            out[prefix + new] = value
    for name, parts in qkv.items():
        out[prefix + name] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


def single_file_state(pipe: Any) -> dict[str, torch.Tensor]:
    """An SD 1.5 or SDXL pipeline's weights in Automatic1111's key layout."""
    state = {
        **unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config)),
        **vae_to_ldm(pipe.vae.state_dict(), dict(pipe.vae.config), "first_stage_model."),
    }
    if getattr(pipe, "text_encoder_2", None) is None:
        state.update(clip_to_ldm(pipe.text_encoder.state_dict()))
    else:
        state.update(clip_to_ldm(pipe.text_encoder.state_dict(), "conditioner.embedders.0.transformer."))
        state.update(open_clip_to_ldm(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model."))
    return state


def save_single_file(pipe: Any, path: Path, dtype: torch.dtype = torch.float16) -> Path:
    """The pipeline as one A1111 checkpoint (fp16, as published checkpoints are). No sidecar config:
    imgopen reads it with the config it ships for the detected base model."""
    state = {key: value.to(dtype).contiguous() for key, value in single_file_state(pipe).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file(state, str(partial))
    partial.rename(path)
    return path


# --- the cache -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealSizeModel:
    kind: str  # sd15 | sdxl
    single_file: Path  # A1111 layout, fp16
    folder: Path  # diffusers layout, fp16

    @property
    def name(self) -> str:
        return self.single_file.stem


def real_size_model(
    kind: str, cache: Path | None = None, seed: int = 0, log: Callable[[str], None] = print
) -> RealSizeModel:
    """The random-weight model of `kind` under `cache` (default_cache()): built on the first call
    (SD 1.5 about a minute, SDXL a few), reused afterwards."""
    if kind not in KINDS:
        raise ValueError(f"kind: one of {', '.join(KINDS)}, not {kind!r}")
    root = (cache or default_cache()) / f"{kind}-seed{seed}"
    model = RealSizeModel(kind, root / f"real-{kind}.safetensors", root / f"real-{kind}-diffusers")
    stamp = root / _STAMP
    wanted = f"{BUILD_VERSION}:{kind}:{seed}"
    if (
        stamp.is_file()
        and stamp.read_text().strip() == wanted
        and model.single_file.is_file()
        and model.folder.is_dir()
    ):
        return model
    started = time.monotonic()
    log(f"building a random-weight {kind} of the published size in {root} (once; reused afterwards)")
    root.mkdir(parents=True, exist_ok=True)
    configs = (cache or default_cache()) / "configs-cache"
    pipe = (sd15_pipeline if kind == "sd15" else sdxl_pipeline)(configs, seed)
    pipe.to(torch.float16)
    save_single_file(pipe, model.single_file)
    pipe.save_pretrained(model.folder)
    stamp.write_text(wanted + "\n")
    log(f"built {kind} in {time.monotonic() - started:.0f} s ({_size(root) / 2**30:.2f} GB)")
    return model


def _size(path: Path) -> int:
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def models_folder(target: Path, models: Iterable[RealSizeModel], layout: str = "single") -> Path:
    """An imgopen models folder (`checkpoints/`) with links to cached models: the single files
    (`layout` "single") or the diffusers folders ("folder")."""
    checkpoints = target / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    for model in models:
        source = model.single_file if layout == "single" else model.folder
        link = checkpoints / (source.name if layout == "single" else model.name)
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return target


# --- streaming writes (models larger than memory) --------------------------------------------------
_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
TensorSpec = tuple[str, tuple[int, ...]]


def random_tensor(name: str, shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
    """A weight as a trained model's is scaled: matrices ~ N(0, 1/fan_in), norm scales 1, biases 0.
    Activations stay finite through every layer (plain N(0, 1) overflows bf16 in a deep model)."""
    if len(shape) == 1:
        return torch.ones(tuple(shape)) if name.endswith("scale") else torch.zeros(tuple(shape))
    fan_in = math.prod(shape[1:])
    return torch.empty(tuple(shape)).normal_(0.0, fan_in**-0.5, generator=generator)


def stream_safetensors(
    path: Path,
    specs: Sequence[TensorSpec],
    dtype: torch.dtype,
    make: Callable[[str, tuple[int, ...]], torch.Tensor],
    metadata: dict[str, str] | None = None,
) -> int:
    """Write a safetensors file one tensor at a time (memory: the largest tensor): the header first
    (shapes are known up front), then each tensor's bytes from `make(name, shape)`. Its bytes."""
    element = torch.empty((), dtype=dtype).element_size()
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, shape in specs:
        size = math.prod(shape) * element
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-aligned
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for name, shape in specs:
            tensor = make(name, shape).to(dtype).contiguous()
            if tuple(tensor.shape) != tuple(shape):
                raise ValueError(f"{name}: made {tuple(tensor.shape)}, declared {shape}")
            handle.write(tensor.reshape(-1).view(torch.uint8).numpy().data)
    partial.rename(path)
    return 8 + len(encoded) + offset


def flux_bfl_specs(config: dict[str, Any]) -> list[TensorSpec]:
    """Every tensor of a FLUX.1 transformer in Black Forest Labs' layout (the published single
    files), from a diffusers transformer config."""
    inner = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    head = int(config["attention_head_dim"])
    mlp = inner * 4
    channels = int(config["in_channels"])
    out_channels = int(config.get("out_channels") or channels)
    specs: list[TensorSpec] = []

    def linear(name: str, out: int, inp: int) -> None:
        specs.extend([(f"{name}.weight", (out, inp)), (f"{name}.bias", (out,))])

    linear("img_in", inner, channels)
    linear("time_in.in_layer", inner, 256)
    linear("time_in.out_layer", inner, inner)
    linear("vector_in.in_layer", inner, int(config["pooled_projection_dim"]))
    linear("vector_in.out_layer", inner, inner)
    if config.get("guidance_embeds", True):
        linear("guidance_in.in_layer", inner, 256)
        linear("guidance_in.out_layer", inner, inner)
    linear("txt_in", inner, int(config["joint_attention_dim"]))
    for index in range(int(config["num_layers"])):
        block = f"double_blocks.{index}"
        for stream in ("img", "txt"):
            linear(f"{block}.{stream}_mod.lin", 6 * inner, inner)
            linear(f"{block}.{stream}_attn.qkv", 3 * inner, inner)
            specs.append((f"{block}.{stream}_attn.norm.query_norm.scale", (head,)))
            specs.append((f"{block}.{stream}_attn.norm.key_norm.scale", (head,)))
            linear(f"{block}.{stream}_attn.proj", inner, inner)
            linear(f"{block}.{stream}_mlp.0", mlp, inner)
            linear(f"{block}.{stream}_mlp.2", inner, mlp)
    for index in range(int(config["num_single_layers"])):
        block = f"single_blocks.{index}"
        linear(f"{block}.linear1", 3 * inner + mlp, inner)
        linear(f"{block}.linear2", inner, inner + mlp)
        specs.append((f"{block}.norm.query_norm.scale", (head,)))
        specs.append((f"{block}.norm.key_norm.scale", (head,)))
        linear(f"{block}.modulation.lin", 3 * inner, inner)
    linear("final_layer.linear", out_channels, inner)
    linear("final_layer.adaLN_modulation.1", 2 * inner, inner)
    return specs


def write_flux_transformer(
    path: Path, config_name: str = "flux_dev", seed: int = 0, dtype: torch.dtype = torch.bfloat16, **overrides: Any
) -> Path:
    """A random FLUX.1 transformer as one BFL-layout safetensors file, written tensor by tensor
    (23.8 GB in bf16 at the real size; memory: about 0.3 GB). `overrides` change the config (fewer
    layers, for a check that a machine can run)."""
    from imgopen.engine.tokenizers import CONFIGS_DIR

    config = {**json.loads((CONFIGS_DIR / config_name / "transformer" / "config.json").read_text()), **overrides}
    generator = torch.Generator().manual_seed(seed)
    if path.is_file():
        return path
    stream_safetensors(path, flux_bfl_specs(config), dtype, lambda name, shape: random_tensor(name, shape, generator))
    return path


def parameter_count(specs: Iterable[TensorSpec]) -> int:
    return sum(math.prod(shape) for _name, shape in specs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="*", default=["sd15"], help="sd15, sdxl, flux")
    parser.add_argument(
        "--cache", type=Path, default=None, help="default: IMGOPEN_BENCH_CACHE or ~/.cache/imgopen-bench"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for kind in args.kinds:
        if kind == "flux":
            target = (args.cache or default_cache()) / "flux" / "real-flux1-dev.safetensors"
            started = time.monotonic()
            write_flux_transformer(target)
            seconds = time.monotonic() - started
            print(f"flux transformer: {target} ({target.stat().st_size / 2**30:.1f} GB, {seconds:.0f} s)")
        else:
            model = real_size_model(kind, args.cache)
            print(f"{kind}: {model.single_file}\n{kind}: {model.folder}")


if __name__ == "__main__":
    main()
