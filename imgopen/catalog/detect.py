"""What a model file is, told from its tensor names and shapes, never from its file name.

Structure decides first: which keys exist (a text encoder's layout, SDXL's size conditioning, Flux's
double/single blocks, a LoRA's down/up pairs). Widths (the cross-attention context: 768 for SD 1.x,
1024 for SD 2.x, 2048 for SDXL) are the last resort, and come from a mapping the caller extends with
the widths of installed checkpoints, so that tiny test models of non-standard widths still match.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from imgopen.catalog.tensor_index import TensorIndex, read_diffusers_folder, read_tensor_index

SD15: Final = "SD 1.5"
SD2: Final = "SD 2.x"
SDXL: Final = "SDXL 1.0"
FLUX_DEV: Final = "Flux.1 D"
FLUX_SCHNELL: Final = "Flux.1 S"
FLUX_FAMILIES: Final = (FLUX_DEV, FLUX_SCHNELL)
UNKNOWN: Final = "unknown"
BASE_MODELS: Final = (SD15, SD2, SDXL, FLUX_DEV, FLUX_SCHNELL, UNKNOWN)
KINDS: Final = ("checkpoint", "lora", "vae", "embedding", "controlnet", "upscaler", "unknown")

# Cross-attention context width -> base model: CLIP ViT-L (SD 1.x), OpenCLIP ViT-H (SD 2.x), and
# CLIP ViT-L + OpenCLIP bigG concatenated (SDXL base).
REAL_CONTEXT_WIDTHS: Final[Mapping[int, str]] = MappingProxyType({768: SD15, 1024: SD2, 2048: SDXL})
# Text encoder (token embedding) width -> base model, for textual-inversion embeddings.
REAL_TEXT_WIDTHS: Final[Mapping[int, str]] = MappingProxyType({768: SD15, 1024: SD2})
# SDXL's refiner conditions on OpenCLIP bigG alone.
_REFINER_CONTEXT_WIDTH: Final = 1280

# UNet input channels beyond the 4 latent ones: what the extra channels hold.
_VARIANT_BY_IN_CHANNELS: Final[Mapping[int, str]] = MappingProxyType(
    {9: "inpainting", 8: "instruct-pix2pix", 7: "x4-upscaler", 5: "depth"}
)
# Flux image input width / output width: Fill adds the masked image and the 8x8-packed mask (64+64+256
# = 6 x 64); Depth and Canny add the control image's latents (2 x 64).
_FLUX_VARIANT_BY_INPUT_RATIO: Final[Mapping[int, str]] = MappingProxyType({6: "inpainting", 2: "control"})
# Where the parts of an all-in-one checkpoint live (A1111/LDM names, then ComfyUI's Flux names).
_VAE_PREFIXES: Final = ("first_stage_model.", "vae.")
_TEXT_ENCODER_PREFIXES: Final = ("cond_stage_model.", "conditioner.embedders.", "text_encoders.", "text_encoder.")
_FLUX_PREFIXES: Final = ("", "model.diffusion_model.", "diffusion_model.", "transformer.")
# A textual inversion holds a handful of vectors (A1111 caps a prompt chunk at 75 tokens).
_MAX_EMBEDDING_VECTORS: Final = 256

# Down/up weights of LoRA-like networks: kohya (`lora_down`), peft (`lora_A`), old diffusers
# (`lora.down`), XLabs Flux (`proj_lora1.down`), LyCORIS LoHa (`hada_*`), LoKr (`lokr_*`) and OFT.
_LORA_WEIGHT = re.compile(
    r"(lora[^.]*\.(down|up)\.weight|lora_(down|up|A|B)\.weight|hada_w[12]_[ab]|lokr_w[12](_[ab])?|oft_(blocks|diag))$"
)
_KOHYA_PREFIXES: Final = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_te3_", "lora_transformer_")
# Names with "_" turned into ".", so kohya's flattened names and diffusers' dotted ones read alike.
_LORA_DOWN_SUFFIXES: Final = ("lora.down.weight", "lora.A.weight", "hada.w1.b")
_UNET_PARTS = re.compile(r"(input\.blocks|output\.blocks|middle\.block|down\.blocks|up\.blocks|mid\.block)\.")
_DEEP_TRANSFORMER = re.compile(r"\.transformer\.blocks\.[1-9]")  # SD 1/2 UNets have one block per attention


@dataclass(frozen=True)
class Detection:
    """What a model is: kind, base model (one of BASE_MODELS), variant, and what the keys told."""

    kind: str
    base_model: str
    variant: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


Shapes = Mapping[str, tuple[int, ...]]


def _unknown(reason: str) -> Detection:
    return Detection(kind="unknown", base_model=UNKNOWN, variant=None, details={"reason": reason})


# --- key helpers ----------------------------------------------------------------------------------
def _under(shapes: Shapes, prefix: str) -> dict[str, tuple[int, ...]]:
    """The keys under `prefix`, with the prefix removed."""
    if not prefix:
        return dict(shapes)
    return {key[len(prefix) :]: shape for key, shape in shapes.items() if key.startswith(prefix)}


def _has_prefix(shapes: Shapes, *prefixes: str) -> bool:
    return any(key.startswith(prefixes) for key in shapes)


def _count_indices(shapes: Shapes, prefix: str) -> int:
    """How many numbered blocks `prefix<N>.` there are."""
    return len({key[len(prefix) :].split(".", 1)[0] for key in shapes if key.startswith(prefix)})


def _first_shape(shapes: Shapes, suffix: str, ndim: int) -> tuple[int, ...] | None:
    for key in sorted(shapes):
        if key.endswith(suffix) and len(shapes[key]) == ndim:
            return shapes[key]
    return None


# --- UNets (SD 1.x, SD 2.x, SDXL) -----------------------------------------------------------------
@dataclass(frozen=True)
class _Unet:
    layout: str  # "ldm" (A1111/original names) or "diffusers"
    shapes: dict[str, tuple[int, ...]]

    @property
    def in_channels(self) -> int | None:
        shape = self.shapes.get("input_blocks.0.0.weight" if self.layout == "ldm" else "conv_in.weight")
        return shape[1] if shape is not None and len(shape) == 4 else None

    @property
    def context_width(self) -> int | None:
        """The cross-attention input width: what the text encoder(s) feed the UNet."""
        shape = _first_shape(self.shapes, "attn2.to_k.weight", 2)
        return shape[1] if shape is not None else None

    @property
    def has_size_conditioning(self) -> bool:
        """SDXL's embedding of the pooled text and the image size / crop (`label_emb` / `add_embedding`)."""
        return _has_prefix(self.shapes, "label_emb.", "add_embedding.")

    @property
    def linear_projection(self) -> bool | None:
        """Attention blocks project in with a linear layer in SD 2.x and SDXL, a 1x1 convolution in SD 1.x."""
        for key in sorted(self.shapes):
            if key.endswith("proj_in.weight"):
                return len(self.shapes[key]) == 2
        return None


def _find_unet(shapes: Shapes) -> _Unet | None:
    """The UNet of an A1111 checkpoint, a bare LDM UNet (ComfyUI's unet folder) or a diffusers UNet file."""
    ldm = _under(shapes, "model.diffusion_model.")
    if "input_blocks.0.0.weight" in ldm:
        return _Unet("ldm", ldm)
    if "input_blocks.0.0.weight" in shapes and _has_prefix(shapes, "output_blocks.", "out."):
        return _Unet("ldm", dict(shapes))
    if "conv_in.weight" in shapes and _has_prefix(shapes, "down_blocks.") and _has_prefix(shapes, "up_blocks."):
        return _Unet("diffusers", dict(shapes))
    return None


def _sd_base_from_text_encoders(shapes: Shapes) -> tuple[str, str | None] | None:
    """Base model and variant from the text encoder keys an all-in-one checkpoint carries."""
    if _has_prefix(shapes, "conditioner.embedders.1."):
        return SDXL, None  # CLIP ViT-L + OpenCLIP bigG
    if _has_prefix(shapes, "conditioner.embedders.0.model."):
        return SDXL, "refiner"  # OpenCLIP bigG alone
    if _has_prefix(shapes, "cond_stage_model.model."):
        return SD2, None  # OpenCLIP ViT-H in open_clip's layout
    if _has_prefix(shapes, "cond_stage_model.transformer."):
        return SD15, None  # OpenAI CLIP ViT-L in transformers' layout
    return None


def _sd_base(shapes: Shapes, unet: _Unet, context_widths: Mapping[int, str]) -> tuple[str, str | None, str]:
    """(base, variant, source): the text encoders when the file has them, else the UNet."""
    from_text = _sd_base_from_text_encoders(shapes)
    if from_text is not None:
        return from_text[0], from_text[1], "structure"
    return _sd_base_from_unet(unet, context_widths)


def _sd_base_from_unet(unet: _Unet, context_widths: Mapping[int, str]) -> tuple[str, str | None, str]:
    """(base, variant, source) of a UNet without text encoder keys: SDXL's size conditioning, then the
    context width, then the attention projection (linear in SD 2.x, convolution in SD 1.x)."""
    if unet.has_size_conditioning:
        return SDXL, "refiner" if unet.context_width == _REFINER_CONTEXT_WIDTH else None, "structure"
    width = unet.context_width
    if width is not None and width in context_widths:
        return context_widths[width], None, "width"
    linear = unet.linear_projection
    if linear is None:
        return UNKNOWN, None, "none"
    return (SD2 if linear else SD15), None, "structure"


def _sd_checkpoint(
    shapes: Shapes, metadata: Mapping[str, str], unet: _Unet, context_widths: Mapping[int, str]
) -> Detection:
    base, variant, source = _sd_base(shapes, unet, context_widths)
    in_channels = unet.in_channels
    if variant is None and in_channels is not None:
        variant = _VARIANT_BY_IN_CHANNELS.get(in_channels)
    if variant is None and _is_v_prediction(shapes, metadata):
        variant = "v-prediction"
    details: dict[str, Any] = {
        "layout": unet.layout,
        "in_channels": in_channels,
        "context_width": unet.context_width,
        "components": _components(shapes, "unet"),
        "base_source": source,
    }
    return Detection(kind="checkpoint", base_model=base, variant=variant, details=details)


def _is_v_prediction(shapes: Shapes, metadata: Mapping[str, str]) -> bool:
    """SD 2.x 768-v and v-prediction SDXL fine-tunes have the shapes of their epsilon siblings: only a
    marker says it (ComfyUI saves an empty `v_pred` tensor; ModelSpec metadata has prediction_type)."""
    prediction = metadata.get("modelspec.prediction_type", "").strip().lower()
    return "v_pred" in shapes or prediction in ("v", "v_prediction", "v-prediction")


def _components(shapes: Shapes, denoiser: str) -> list[str]:
    parts = [denoiser]
    if _has_prefix(shapes, *_VAE_PREFIXES):
        parts.append("vae")
    if _has_prefix(shapes, *_TEXT_ENCODER_PREFIXES):
        parts.append("text_encoder")
    return parts


# --- Flux -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FluxTransformer:
    layout: str  # "bfl" (Black Forest Labs' names) or "diffusers"
    shapes: dict[str, tuple[int, ...]]

    @property
    def has_guidance(self) -> bool:
        """Only FLUX.1 [dev] embeds the guidance scale; [schnell] is distilled to work without it."""
        prefix = "guidance_in." if self.layout == "bfl" else "time_text_embed.guidance_embedder."
        return _has_prefix(self.shapes, prefix)

    @property
    def block_counts(self) -> tuple[int, int]:
        if self.layout == "bfl":
            return _count_indices(self.shapes, "double_blocks."), _count_indices(self.shapes, "single_blocks.")
        return (
            _count_indices(self.shapes, "transformer_blocks."),
            _count_indices(self.shapes, "single_transformer_blocks."),
        )

    @property
    def input_ratio(self) -> int | None:
        """Image input width / output width: 1 for text-to-image, more where conditioning is concatenated."""
        names = ("img_in.weight", "final_layer.linear.weight")
        if self.layout == "diffusers":
            names = ("x_embedder.weight", "proj_out.weight")
        image_in, final = (self.shapes.get(name) for name in names)
        if image_in is None or final is None or len(image_in) != 2 or len(final) != 2 or final[0] == 0:
            return None  # absent, or quantized weights stored flat
        ratio, rest = divmod(image_in[1], final[0])
        return ratio if rest == 0 else None


def _find_flux(shapes: Shapes) -> _FluxTransformer | None:
    for prefix in _FLUX_PREFIXES:
        sub = _under(shapes, prefix)
        if _has_prefix(sub, "double_blocks.") and _has_prefix(sub, "single_blocks."):
            return _FluxTransformer("bfl", sub)
        if _has_prefix(sub, "transformer_blocks.") and _has_prefix(sub, "single_transformer_blocks."):
            return _FluxTransformer("diffusers", sub)
    return None


def _flux_checkpoint(shapes: Shapes, flux: _FluxTransformer) -> Detection:
    ratio = flux.input_ratio
    double, single = flux.block_counts
    details: dict[str, Any] = {
        "layout": flux.layout,
        "double_blocks": double,
        "single_blocks": single,
        "components": _components(shapes, "transformer"),
        "base_source": "structure",
    }
    variant = _FLUX_VARIANT_BY_INPUT_RATIO.get(ratio) if ratio is not None else None
    base = FLUX_DEV if flux.has_guidance else FLUX_SCHNELL
    return Detection(kind="checkpoint", base_model=base, variant=variant, details=details)


# --- checkpoints ----------------------------------------------------------------------------------
def detect_checkpoint(index: TensorIndex, context_widths: Mapping[int, str] = REAL_CONTEXT_WIDTHS) -> Detection:
    """An SD 1.x / 2.x / SDXL checkpoint (A1111 all-in-one, bare LDM UNet or diffusers UNet file) or a
    Flux transformer (BFL or diffusers names, alone or with ComfyUI's bundled VAE and text encoders)."""
    shapes = index.shapes
    if _is_controlnet(shapes):
        return _unknown("a ControlNet, not a checkpoint")
    if _is_lora(shapes):
        return _unknown("a LoRA, not a checkpoint")
    flux = _find_flux(shapes)
    if flux is not None:
        return _flux_checkpoint(shapes, flux)
    unet = _find_unet(shapes)
    if unet is None:
        return _unknown("no UNet or Flux transformer keys")
    return _sd_checkpoint(shapes, index.metadata, unet, context_widths)


# --- LoRAs ----------------------------------------------------------------------------------------
def _is_lora(shapes: Shapes) -> bool:
    return any(key.startswith(_KOHYA_PREFIXES) or _LORA_WEIGHT.search(key) for key in shapes)


def _lora_format(shapes: Shapes) -> str:
    keys = list(shapes)
    if any(key.startswith(_KOHYA_PREFIXES) for key in keys):
        return "kohya"
    if any(".lora_A." in key for key in keys):
        return "peft"
    if any(".lora.down." in key for key in keys):
        return "diffusers"
    return "other"


def _lora_network(shapes: Shapes) -> str:
    keys = list(shapes)
    if any(".lokr_" in key for key in keys):
        return "lokr"
    if any(".hada_" in key for key in keys):
        return "loha"
    if any(".oft_" in key for key in keys):
        return "oft"
    return "lora"


def _dotted(shapes: Shapes) -> dict[str, tuple[int, ...]]:
    return {key.replace("_", "."): shape for key, shape in shapes.items()}


def _lora_rank(dotted: Mapping[str, tuple[int, ...]]) -> int | None:
    """The network dim: the most common output width of the down weights (of linear layers first; a
    LoCon's convolutions may have a rank of their own)."""
    downs = [shape for key, shape in dotted.items() if key.endswith(_LORA_DOWN_SUFFIXES) and shape]
    linear = [shape[0] for shape in downs if len(shape) == 2]
    ranks = linear or [shape[0] for shape in downs]
    return Counter(ranks).most_common(1)[0][0] if ranks else None


def _lora_base_from_structure(dotted: Mapping[str, tuple[int, ...]]) -> tuple[str, str | None] | None:
    keys = list(dotted)
    if any(part in key for key in keys for part in ("double.blocks.", "single.blocks.", "single.transformer.blocks.")):
        # Flux LoRAs are trained on dev (schnell is distilled); the shapes are the same for both.
        return FLUX_DEV, None
    if any("joint.blocks." in key for key in keys):
        return UNKNOWN, None  # SD 3's MMDiT: a family imgopen has no label for
    if any(key.startswith(("lora.te1.", "lora.te2.", "text.encoder.2.")) for key in keys):
        return SDXL, None  # kohya numbers the text encoders only where there are two
    if any(_UNET_PARTS.search(key) and _DEEP_TRANSFORMER.search(key) for key in keys):
        return SDXL, None  # several transformer blocks per attention
    for key in sorted(keys):
        if ".proj.in." in key and key.endswith(_LORA_DOWN_SUFFIXES) and _UNET_PARTS.search(key):
            return (SD15, None) if len(dotted[key]) == 4 else (SD2, None)
    return None


def _lora_context_width(dotted: Mapping[str, tuple[int, ...]]) -> int | None:
    """The cross-attention input width (the `to_k` of attn2), else the text encoder's width (the same for
    SD 1.x and 2.x, whose UNet attends to the text encoder's hidden states)."""
    for pattern in ("attn2.to.k.", "self.attn.q.proj."):
        for key in sorted(dotted):
            shape = dotted[key]
            if pattern in key and key.endswith(_LORA_DOWN_SUFFIXES) and len(shape) == 2:
                return shape[1]
    return None


def detect_lora(index: TensorIndex, context_widths: Mapping[int, str] = REAL_CONTEXT_WIDTHS) -> Detection:
    """A LoRA (kohya, diffusers, peft; LyCORIS LoHa/LoKr count too): base from kohya/ModelSpec metadata,
    then structure (Flux blocks, SDXL's second text encoder and deep attention), then the context width."""
    shapes = index.shapes
    if not _is_lora(shapes):
        return _unknown("no LoRA down/up weights")
    dotted = _dotted(shapes)
    width = _lora_context_width(dotted)
    decided, source = base_from_training_metadata(index.metadata), "metadata"
    if decided is None:
        decided, source = _lora_base_from_structure(dotted), "structure"
    if decided is None and width is not None and width in context_widths:
        decided, source = (context_widths[width], None), "width"
    base, variant = decided if decided is not None else (UNKNOWN, None)
    details: dict[str, Any] = {
        "rank": _lora_rank(dotted),
        "format": _lora_format(shapes),
        "network": _lora_network(shapes),
        "context_width": width,
        "base_source": source if decided is not None else "none",
    }
    return Detection(kind="lora", base_model=base, variant=variant, details=details)


def base_from_training_metadata(metadata: Mapping[str, str]) -> tuple[str, str | None] | None:
    """(base, variant) from kohya's `ss_base_model_version` ("sd_v1", "sd_v2_v", "sdxl_base_v1-0",
    "flux1"...), ModelSpec's `modelspec.architecture` or kohya's older `ss_v2` flag; None if they say nothing."""
    version = metadata.get("ss_base_model_version", "").strip().lower()
    decided = _base_from_kohya_version(version) if version else None
    if decided is None:
        architecture = metadata.get("modelspec.architecture", "").strip().lower()
        decided = _base_from_modelspec(architecture) if architecture else None
    if decided is None and metadata.get("ss_v2", "").strip().lower() == "true":
        decided = SD2, None
    return decided


def _base_from_kohya_version(version: str) -> tuple[str, str | None] | None:
    if version.startswith("sdxl"):
        return SDXL, "refiner" if "refiner" in version else None
    if version.startswith("flux"):
        return (FLUX_SCHNELL if "schnell" in version else FLUX_DEV), None
    match = re.match(r"sd[_-]?v?(\d)", version)
    if match is None:
        return None
    variant = "v-prediction" if version.endswith("_v") else None
    # SD 3 is a family imgopen has no label for: known, but not one of ours.
    return {"1": SD15, "2": SD2}.get(match.group(1), UNKNOWN), variant


def _base_from_modelspec(architecture: str) -> tuple[str, str | None] | None:
    name = architecture.split("/", 1)[0]  # "stable-diffusion-xl-v1-base/lora" -> the model part
    if name.startswith("stable-diffusion-xl"):
        return SDXL, "refiner" if "refiner" in name else None
    if name.startswith("stable-diffusion-v2"):
        return SD2, "v-prediction" if name.endswith("-v") else None
    if name.startswith("stable-diffusion-v1"):
        return SD15, None
    if name.startswith("flux"):
        return (FLUX_SCHNELL if "schnell" in name else FLUX_DEV), None
    if name.startswith(("stable-diffusion-v3", "stable-diffusion-3")):
        return UNKNOWN, None
    return None


# --- VAEs -----------------------------------------------------------------------------------------
def detect_vae(index: TensorIndex) -> Detection:
    """A VAE alone (LDM or diffusers names, with or without A1111's `first_stage_model.` prefix)."""
    shapes = index.shapes
    if _find_unet(shapes) is not None or _find_flux(shapes) is not None or _is_lora(shapes):
        return _unknown("a whole checkpoint or a LoRA, not a VAE")
    for prefix in ("", *_VAE_PREFIXES):
        sub = _under(shapes, prefix)
        layout = _vae_layout(sub)
        if layout is not None:
            return _vae_detection(sub, layout)
    return _unknown("no VAE encoder/decoder keys")


def _vae_layout(shapes: Shapes) -> str | None:
    if _has_prefix(shapes, "encoder.down.0.", "decoder.up.0."):
        return "ldm"
    if _has_prefix(shapes, "encoder.down_blocks.0.", "decoder.up_blocks.0."):
        return "diffusers"
    return None


def _vae_detection(shapes: Shapes, layout: str) -> Detection:
    latent = _vae_latent_channels(shapes)
    details: dict[str, Any] = {"latent_channels": latent, "layout": layout}
    if latent == 4:
        # SD 1.x, SD 2.x and SDXL VAEs share this architecture (their weights differ, not their shapes):
        # "SD 1.5" stands for the family.
        return Detection(kind="vae", base_model=SD15, details={**details, "family": "SD"})
    if latent == 16:
        # The Flux VAE (ae.safetensors), shared by dev and schnell: "Flux.1 D" stands for both.
        return Detection(kind="vae", base_model=FLUX_DEV, details={**details, "family": "Flux"})
    return Detection(kind="vae", base_model=UNKNOWN, details=details)


def _vae_latent_channels(shapes: Shapes) -> int | None:
    encoder_out = shapes.get("encoder.conv_out.weight")
    if encoder_out is not None and len(encoder_out) == 4:
        return encoder_out[0] // 2  # the encoder outputs a mean and a log-variance per latent channel
    decoder_in = shapes.get("decoder.conv_in.weight")
    if decoder_in is not None and len(decoder_in) == 4:
        return decoder_in[1]
    return None


# --- embeddings -----------------------------------------------------------------------------------
def detect_embedding(index: TensorIndex, text_widths: Mapping[int, str] = REAL_TEXT_WIDTHS) -> Detection:
    """A textual inversion: A1111 `.pt` (`string_to_param.*`), `emb_params` safetensors, diffusers
    `learned_embeds` (one `<token>` key), or SDXL's `clip_l` + `clip_g` pair."""
    shapes = index.shapes
    clip_l, clip_g = shapes.get("clip_l"), shapes.get("clip_g")
    if clip_l is not None and clip_g is not None:
        details = {"vectors": _vector_count(clip_l), "width": clip_l[-1], "width_g": clip_g[-1]}
        return Detection(kind="embedding", base_model=SDXL, details=details)
    vectors = _embedding_vectors(shapes)
    if vectors is None:
        return _unknown("no textual-inversion vectors")
    width = vectors[-1]
    base = text_widths.get(width, UNKNOWN)
    return Detection(kind="embedding", base_model=base, details={"vectors": _vector_count(vectors), "width": width})


def _embedding_vectors(shapes: Shapes) -> tuple[int, ...] | None:
    params = sorted(key for key in shapes if key.startswith("string_to_param."))
    if params:
        return shapes[params[0]]
    if "emb_params" in shapes:
        return shapes["emb_params"]
    if len(shapes) == 1:  # diffusers: {"<token>": vector(s)}
        (shape,) = shapes.values()
        if len(shape) in (1, 2) and _vector_count(shape) <= _MAX_EMBEDDING_VECTORS:
            return shape
    return None


def _vector_count(shape: tuple[int, ...]) -> int:
    return shape[0] if len(shape) == 2 else 1


# --- ControlNets ----------------------------------------------------------------------------------
def _is_controlnet(shapes: Shapes) -> bool:
    return _find_controlnet(shapes) is not None


def _find_controlnet(shapes: Shapes) -> tuple[str, dict[str, tuple[int, ...]]] | None:
    """(layout, keys): LDM (`control_model.` or bare, with the hint encoder and zero convolutions),
    diffusers SD/SDXL (`controlnet_cond_embedding.`), or diffusers Flux (`controlnet_x_embedder.`)."""
    for prefix in ("control_model.", ""):
        sub = _under(shapes, prefix)
        if _has_prefix(sub, "input_hint_block.") and _has_prefix(sub, "zero_convs."):
            return "ldm", sub
    if _has_prefix(shapes, "controlnet_cond_embedding."):
        return "diffusers", dict(shapes)
    if _has_prefix(shapes, "controlnet_x_embedder.") or (
        _has_prefix(shapes, "controlnet_blocks.") and _has_prefix(shapes, "transformer_blocks.")
    ):
        return "flux", dict(shapes)
    return None


def detect_controlnet(index: TensorIndex, context_widths: Mapping[int, str] = REAL_CONTEXT_WIDTHS) -> Detection:
    """A ControlNet: base from SDXL's size conditioning, the context width, then the attention projection."""
    found = _find_controlnet(index.shapes)
    if found is None:
        return _unknown("no ControlNet hint encoder or zero convolutions")
    layout, shapes = found
    if layout == "flux":
        base = FLUX_DEV if _has_prefix(shapes, "time_text_embed.guidance_embedder.") else FLUX_SCHNELL
        return Detection(kind="controlnet", base_model=base, details={"layout": "diffusers", "family": "Flux"})
    unet = _Unet(layout, shapes)
    # The original full-model ControlNet releases carry the text encoder too.
    base, variant, source = _sd_base(index.shapes, unet, context_widths)
    details: dict[str, Any] = {"layout": layout, "context_width": unet.context_width, "base_source": source}
    return Detection(kind="controlnet", base_model=base, variant=variant, details=details)


# --- upscalers ------------------------------------------------------------------------------------
def detect_upscaler(index: TensorIndex) -> Detection:
    """ESRGAN-family super-resolution networks (RRDBNet, SRVGGNetCompact) and SwinIR: pixel models, tied
    to no base model."""
    shapes = index.shapes
    architecture, scale = _upscaler_architecture(shapes)
    if architecture is None:
        return _unknown("no known upscaler layout")
    details: dict[str, Any] = {"architecture": architecture, "scale": scale}
    return Detection(kind="upscaler", base_model=UNKNOWN, details=details)


def _upscaler_architecture(shapes: Shapes) -> tuple[str | None, int | None]:
    first = shapes.get("conv_first.weight")
    if first is not None and len(first) == 4 and _has_prefix(shapes, "body.") and "conv_up1.weight" in shapes:
        # Real-ESRGAN feeds x2 / x1 models pixel-unshuffled input (4x / 16x the 3 channels) to a 4x body.
        return "RRDBNet", _scale_from_unshuffled_input(first[1])
    if "model.0.weight" in shapes and _has_prefix(shapes, "model.1.sub."):
        return "ESRGAN", None  # the original key names
    if first is not None and _has_prefix(shapes, "layers.0.residual_group."):
        return "SwinIR", None
    if shapes and all(re.fullmatch(r"body\.\d+\.(weight|bias)", key) for key in shapes):
        last = max(shapes, key=lambda key: int(key.split(".")[1]))
        out = shapes[last][0]
        root = math.isqrt(out // 3) if out % 3 == 0 else 0
        return "SRVGGNetCompact", root if root * root * 3 == out else None
    return None, None


def _scale_from_unshuffled_input(in_channels: int) -> int | None:
    return {3: 4, 12: 2, 48: 1}.get(in_channels)


# --- diffusers folders ----------------------------------------------------------------------------
def detect_folder(folder: dict[str, Any], context_widths: Mapping[int, str] = REAL_CONTEXT_WIDTHS) -> Detection:
    """A diffusers folder as `read_diffusers_folder` describes it: a pipeline (model_index.json with its
    component configs under their names) or a single component (config.json)."""
    class_name = str(folder.get("_class_name", ""))
    if class_name.endswith("Pipeline"):
        return _detect_pipeline(class_name, folder, context_widths)
    if class_name == "ControlNetModel":
        base, source = _sd_base_from_unet_config(folder, None, context_widths)
        details = {"layout": "diffusers", "context_width": folder.get("cross_attention_dim"), "base_source": source}
        return Detection(kind="controlnet", base_model=base, details=details)
    if class_name == "FluxControlNetModel":
        base = FLUX_DEV if folder.get("guidance_embeds") else FLUX_SCHNELL
        return Detection(kind="controlnet", base_model=base, details={"layout": "diffusers", "family": "Flux"})
    if class_name == "AutoencoderKL":
        return _vae_from_config(folder)
    if class_name == "UNet2DConditionModel":
        return _sd_pipeline(class_name, {"unet": folder}, context_widths)
    if class_name == "FluxTransformer2DModel":
        return _flux_pipeline(class_name, {"transformer": folder})
    return _unknown(f"unsupported diffusers class {class_name or '(none)'}")


def _config(folder: Mapping[str, Any], name: str) -> dict[str, Any]:
    entry = folder.get(name)
    return entry if isinstance(entry, dict) else {}


def _detect_pipeline(class_name: str, folder: dict[str, Any], context_widths: Mapping[int, str]) -> Detection:
    if class_name.startswith("StableDiffusionXL"):
        return _sdxl_pipeline(class_name, folder)
    if class_name.startswith("Flux"):
        return _flux_pipeline(class_name, folder)
    if class_name.startswith("StableDiffusion") and not class_name.startswith("StableDiffusion3"):
        return _sd_pipeline(class_name, folder, context_widths)
    return Detection(kind="checkpoint", base_model=UNKNOWN, details={"layout": "diffusers", "pipeline": class_name})


def _unet_variant(folder: Mapping[str, Any]) -> str | None:
    in_channels = _config(folder, "unet").get("in_channels")
    variant = _VARIANT_BY_IN_CHANNELS.get(in_channels) if isinstance(in_channels, int) else None
    prediction = _config(folder, "scheduler").get("prediction_type")
    return variant or ("v-prediction" if prediction == "v_prediction" else None)


def _sdxl_pipeline(class_name: str, folder: dict[str, Any]) -> Detection:
    # The refiner ships without the CLIP ViT-L encoder and conditions on an aesthetic score.
    refiner = bool(folder.get("requires_aesthetics_score")) or folder.get("text_encoder") in (None, [None, None])
    unet = _config(folder, "unet")
    details = {
        "layout": "diffusers",
        "pipeline": class_name,
        "in_channels": unet.get("in_channels"),
        "context_width": unet.get("cross_attention_dim"),
        "base_source": "structure",
    }
    variant = "refiner" if refiner else _unet_variant(folder)
    return Detection(kind="checkpoint", base_model=SDXL, variant=variant, details=details)


def _flux_pipeline(class_name: str, folder: dict[str, Any]) -> Detection:
    transformer = _config(folder, "transformer")
    if "guidance_embeds" not in transformer:
        return Detection(kind="checkpoint", base_model=UNKNOWN, details={"layout": "diffusers", "pipeline": class_name})
    base = FLUX_DEV if transformer["guidance_embeds"] else FLUX_SCHNELL
    variant = "inpainting" if "Fill" in class_name or "Inpaint" in class_name else None
    details = {
        "layout": "diffusers",
        "pipeline": class_name,
        "in_channels": transformer.get("in_channels"),
        "base_source": "structure",
    }
    return Detection(kind="checkpoint", base_model=base, variant=variant, details=details)


def _sd_pipeline(class_name: str, folder: dict[str, Any], context_widths: Mapping[int, str]) -> Detection:
    text_encoder, unet = _config(folder, "text_encoder"), _config(folder, "unet")
    base, source = _sd_base_from_unet_config(unet, text_encoder, context_widths)
    details = {
        "layout": "diffusers",
        "pipeline": class_name,
        "in_channels": unet.get("in_channels"),
        "context_width": unet.get("cross_attention_dim"),
        "base_source": source,
    }
    return Detection(kind="checkpoint", base_model=base, variant=_unet_variant(folder), details=details)


def _sd_base_from_unet_config(
    unet: Mapping[str, Any], text_encoder: Mapping[str, Any] | None, context_widths: Mapping[int, str]
) -> tuple[str, str]:
    """(base, source) of an SD-family UNet or ControlNet config: SDXL's text_time embedding, the text
    encoder's width (768 CLIP ViT-L, 1024 OpenCLIP ViT-H), the context width, then the projection."""
    if unet.get("addition_embed_type") == "text_time":
        return SDXL, "structure"
    hidden = (text_encoder or {}).get("hidden_size")
    if isinstance(hidden, int) and hidden in REAL_TEXT_WIDTHS:
        return REAL_TEXT_WIDTHS[hidden], "width"
    context = unet.get("cross_attention_dim")
    if isinstance(context, int) and context in context_widths:
        return context_widths[context], "width"
    if unet:
        return (SD2 if unet.get("use_linear_projection") else SD15), "structure"
    if text_encoder:
        # OpenCLIP ViT-H, converted to transformers' CLIPTextModel, keeps its GELU; OpenAI's CLIP uses quick GELU.
        return (SD2 if text_encoder.get("hidden_act") == "gelu" else SD15), "structure"
    return UNKNOWN, "none"


def _vae_from_config(config: Mapping[str, Any]) -> Detection:
    latent = config.get("latent_channels")
    details: dict[str, Any] = {"latent_channels": latent, "layout": "diffusers"}
    if latent == 4:
        return Detection(kind="vae", base_model=SD15, details={**details, "family": "SD"})
    if latent == 16:
        return Detection(kind="vae", base_model=FLUX_DEV, details={**details, "family": "Flux"})
    return Detection(kind="vae", base_model=UNKNOWN, details=details)


# --- dispatch -------------------------------------------------------------------------------------
def detect_tensors(
    index: TensorIndex,
    context_widths: Mapping[int, str] = REAL_CONTEXT_WIDTHS,
    text_widths: Mapping[int, str] = REAL_TEXT_WIDTHS,
) -> Detection:
    """Any kind, from the tensors alone: the most specific structures are tried first (a ControlNet has
    UNet blocks, an original ControlNet release even a whole checkpoint)."""
    for detector in _detectors(context_widths, text_widths).values():
        detection = detector(index)
        if detection.kind != "unknown":
            return detection
    return _unknown("no known model structure")


def _detectors(
    context_widths: Mapping[int, str], text_widths: Mapping[int, str]
) -> dict[str, Callable[[TensorIndex], Detection]]:
    return {
        "controlnet": lambda index: detect_controlnet(index, context_widths),
        "lora": lambda index: detect_lora(index, context_widths),
        "checkpoint": lambda index: detect_checkpoint(index, context_widths),
        "vae": detect_vae,
        "embedding": lambda index: detect_embedding(index, text_widths),
        "upscaler": detect_upscaler,
    }


def detect_file(
    path: Path,
    kind_hint: str,
    context_widths: Mapping[int, str] = REAL_CONTEXT_WIDTHS,
    text_widths: Mapping[int, str] = REAL_TEXT_WIDTHS,
    index: TensorIndex | None = None,
) -> Detection:
    """A model file (or diffusers folder) found in the `kind_hint` folder. The hint picks the detector;
    when the tensors do not fit it (a LoRA among checkpoints), every kind is tried. `index` saves a
    second read when the caller already has it. Raises ModelFileError for unreadable files."""
    if path.is_dir():
        return detect_folder(read_diffusers_folder(path), context_widths)
    if index is None:
        index = read_tensor_index(path)
    detectors = _detectors(context_widths, text_widths)
    hinted = detectors.get(kind_hint)
    if hinted is not None:
        detection = hinted(index)
        if detection.kind != "unknown":
            return detection
    return detect_tensors(index, context_widths, text_widths)


# --- training metadata ----------------------------------------------------------------------------
_TRIGGER_KEYS: Final = ("ss_trigger_words", "modelspec.trigger_phrase", "trigger_words", "trigger_phrase")


def trigger_words(metadata: Mapping[str, str], limit: int = 10) -> list[str]:
    """Words that call up a LoRA: declared trigger words first, then kohya's most frequent training
    tags (`ss_tag_frequency`, summed over datasets; most frequent first, ties by name)."""
    words: list[str] = []
    for key in _TRIGGER_KEYS:
        words += _declared_words(metadata.get(key, ""))
    for tag in _frequent_tags(metadata.get("ss_tag_frequency", "")):
        words.append(tag)
    unique = list(dict.fromkeys(word for word in words if word))
    return unique[: max(limit, 0)]


def _declared_words(raw: str) -> list[str]:
    """A JSON list of phrases, or a comma-separated string."""
    text = raw.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return []
        return (
            [str(item).strip() for item in parsed if isinstance(item, str | int | float)]
            if isinstance(parsed, list)
            else []
        )
    return [part.strip() for part in text.split(",")]


def _frequent_tags(raw: str) -> list[str]:
    try:
        datasets = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return []
    if not isinstance(datasets, dict):
        return []
    totals: Counter[str] = Counter()
    for tags in datasets.values():
        if not isinstance(tags, dict):
            continue
        for tag, count in tags.items():
            if isinstance(count, int) and not isinstance(count, bool) and tag.strip():
                totals[tag.strip()] += count  # kohya keeps the space after each comma in captions
    return [tag for tag, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]
