"""Model detection from tensor names and shapes.

Real architectures are built as synthetic indexes (names -> shapes, no tensors) with the keys and
shapes of the released files; tiny real files come from `python -m imgopen.testing`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imgopen.catalog.detect import (
    FLUX_DEV,
    FLUX_SCHNELL,
    REAL_CONTEXT_WIDTHS,
    REAL_TEXT_WIDTHS,
    SD2,
    SD15,
    SDXL,
    UNKNOWN,
    Detection,
    base_from_training_metadata,
    detect_checkpoint,
    detect_controlnet,
    detect_embedding,
    detect_file,
    detect_folder,
    detect_lora,
    detect_tensors,
    detect_upscaler,
    detect_vae,
    trigger_words,
)
from imgopen.catalog.tensor_index import ModelFileError, TensorIndex, read_diffusers_folder, read_tensor_index

Keys = dict[str, tuple[int, ...]]


# --- builders: UNets ------------------------------------------------------------------------------
def _linear(name: str, out: int, inp: int, bias: bool = True) -> Keys:
    keys: Keys = {f"{name}.weight": (out, inp)}
    if bias:
        keys[f"{name}.bias"] = (out,)
    return keys


def _conv(name: str, out: int, inp: int, kernel: int) -> Keys:
    return {f"{name}.weight": (out, inp, kernel, kernel), f"{name}.bias": (out,)}


def _norm(name: str, width: int) -> Keys:
    return {f"{name}.weight": (width,), f"{name}.bias": (width,)}


def _resblock(prefix: str, c_in: int, c_out: int, emb: int) -> Keys:
    """An LDM ResBlock: in_layers (norm, conv), emb_layers (time embedding), out_layers (norm, conv)."""
    keys = {
        **_norm(prefix + "in_layers.0", c_in),
        **_conv(prefix + "in_layers.2", c_out, c_in, 3),
        **_linear(prefix + "emb_layers.1", c_out, emb),
        **_norm(prefix + "out_layers.0", c_out),
        **_conv(prefix + "out_layers.3", c_out, c_out, 3),
    }
    if c_in != c_out:
        keys.update(_conv(prefix + "skip_connection", c_out, c_in, 1))
    return keys


def _spatial_transformer(prefix: str, c: int, context: int, depth: int, linear: bool) -> Keys:
    """An LDM SpatialTransformer: 1x1 conv projections in SD 1.x, linear ones in SD 2.x and SDXL."""
    proj = _linear if linear else (lambda name, out, inp: _conv(name, out, inp, 1))
    keys = {**_norm(prefix + "norm", c), **proj(prefix + "proj_in", c, c), **proj(prefix + "proj_out", c, c)}
    for d in range(depth):
        block = f"{prefix}transformer_blocks.{d}."
        keys.update(
            {
                **_linear(block + "attn1.to_q", c, c, bias=False),
                **_linear(block + "attn1.to_k", c, c, bias=False),
                **_linear(block + "attn1.to_v", c, c, bias=False),
                **_linear(block + "attn1.to_out.0", c, c),
                **_linear(block + "attn2.to_q", c, c, bias=False),
                **_linear(block + "attn2.to_k", c, context, bias=False),
                **_linear(block + "attn2.to_v", c, context, bias=False),
                **_linear(block + "attn2.to_out.0", c, c),
                **_linear(block + "ff.net.0.proj", 8 * c, c),  # GEGLU: two halves of 4c
                **_linear(block + "ff.net.2", c, 4 * c),
                **_norm(block + "norm1", c),
                **_norm(block + "norm2", c),
                **_norm(block + "norm3", c),
            }
        )
    return keys


def ldm_unet(
    *,
    channels: int = 320,
    mults: tuple[int, ...] = (1, 2, 4, 4),
    depths: tuple[int, ...] = (1, 1, 1, 0),
    mid_depth: int = 1,
    context: int = 768,
    linear: bool = False,
    in_channels: int = 4,
    adm_in: int | None = None,
    encoder_only: bool = False,
) -> tuple[Keys, list[int]]:
    """The UNet of the LDM code (keys without prefix) and the channels of its skip connections.
    Defaults are SD 1.5; two ResBlocks per level, attention where `depths` is not 0."""
    emb = 4 * channels
    keys: Keys = {**_linear("time_embed.0", emb, channels), **_linear("time_embed.2", emb, emb)}
    if adm_in is not None:  # SDXL: pooled text embedding + size / crop conditioning
        keys.update({**_linear("label_emb.0.0", emb, adm_in), **_linear("label_emb.0.2", emb, emb)})
    keys.update(_conv("input_blocks.0.0", channels, in_channels, 3))
    skips, ch, block = [channels], channels, 1
    for level, mult in enumerate(mults):
        for _ in range(2):
            keys.update(_resblock(f"input_blocks.{block}.0.", ch, channels * mult, emb))
            ch = channels * mult
            if depths[level]:
                keys.update(_spatial_transformer(f"input_blocks.{block}.1.", ch, context, depths[level], linear))
            skips.append(ch)
            block += 1
        if level != len(mults) - 1:
            keys.update(_conv(f"input_blocks.{block}.0.op", ch, ch, 3))
            skips.append(ch)
            block += 1
    keys.update(_resblock("middle_block.0.", ch, ch, emb))
    keys.update(_spatial_transformer("middle_block.1.", ch, context, mid_depth, linear))
    keys.update(_resblock("middle_block.2.", ch, ch, emb))
    if encoder_only:
        return keys, skips
    block, pending = 0, list(skips)
    for level in reversed(range(len(mults))):
        for i in range(3):
            out = channels * mults[level]
            keys.update(_resblock(f"output_blocks.{block}.0.", ch + pending.pop(), out, emb))
            ch = out
            if depths[level]:
                keys.update(_spatial_transformer(f"output_blocks.{block}.1.", ch, context, depths[level], linear))
            if level and i == 2:
                keys.update(_conv(f"output_blocks.{block}.{2 if depths[level] else 1}.conv", ch, ch, 3))
            block += 1
    keys.update({**_norm("out.0", ch), **_conv("out.2", 4, ch, 3)})
    return keys, skips


def prefixed(prefix: str, keys: Keys) -> Keys:
    return {prefix + key: shape for key, shape in keys.items()}


# --- builders: text encoders and VAEs -------------------------------------------------------------
def clip_text(prefix: str, width: int = 768, layers: int = 12) -> Keys:
    """OpenAI CLIP ViT-L/14's text model in transformers' layout (SD 1.x, SDXL's first encoder)."""
    keys = {
        f"{prefix}text_model.embeddings.token_embedding.weight": (49408, width),
        f"{prefix}text_model.embeddings.position_embedding.weight": (77, width),
        **_norm(f"{prefix}text_model.final_layer_norm", width),
    }
    for i in range(layers):
        layer = f"{prefix}text_model.encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            keys.update(_linear(f"{layer}self_attn.{proj}", width, width))
        keys.update({**_norm(layer + "layer_norm1", width), **_norm(layer + "layer_norm2", width)})
        keys.update({**_linear(layer + "mlp.fc1", 4 * width, width), **_linear(layer + "mlp.fc2", width, 4 * width)})
    return keys


def open_clip_text(prefix: str, width: int, layers: int) -> Keys:
    """An OpenCLIP text tower in open_clip's layout (SD 2.x: ViT-H 1024 x 24; SDXL: bigG 1280 x 32)."""
    keys = {
        f"{prefix}token_embedding.weight": (49408, width),
        f"{prefix}positional_embedding": (77, width),
        f"{prefix}text_projection": (width, width),
        f"{prefix}logit_scale": (),
        **_norm(f"{prefix}ln_final", width),
    }
    for i in range(layers):
        block = f"{prefix}transformer.resblocks.{i}."
        keys.update(
            {
                f"{block}attn.in_proj_weight": (3 * width, width),
                f"{block}attn.in_proj_bias": (3 * width,),
                **_linear(block + "attn.out_proj", width, width),
                **_norm(block + "ln_1", width),
                **_norm(block + "ln_2", width),
                **_linear(block + "mlp.c_fc", 4 * width, width),
                **_linear(block + "mlp.c_proj", width, 4 * width),
            }
        )
    return keys


def _vae_resblock(prefix: str, c_in: int, c_out: int) -> Keys:
    keys = {
        **_norm(prefix + "norm1", c_in),
        **_conv(prefix + "conv1", c_out, c_in, 3),
        **_norm(prefix + "norm2", c_out),
        **_conv(prefix + "conv2", c_out, c_out, 3),
    }
    if c_in != c_out:
        keys.update(_conv(prefix + "nin_shortcut", c_out, c_in, 1))
    return keys


def _vae_mid(prefix: str, c: int) -> Keys:
    keys = {**_vae_resblock(prefix + "block_1.", c, c), **_vae_resblock(prefix + "block_2.", c, c)}
    keys.update(_norm(prefix + "attn_1.norm", c))
    for name in ("q", "k", "v", "proj_out"):
        keys.update(_conv(f"{prefix}attn_1.{name}", c, c, 1))
    return keys


def ldm_vae(prefix: str = "", latent: int = 4, quant_convs: bool = True) -> Keys:
    """The KL autoencoder in the LDM layout: SD 1.x/2.x/SDXL (4 latent channels, quant convs) or
    Flux's ae.safetensors (16 latent channels, no quant convs)."""
    widths = (128, 256, 512, 512)
    keys = _conv(prefix + "encoder.conv_in", 128, 3, 3)
    ch = 128
    for i, width in enumerate(widths):
        for j in range(2):
            keys.update(_vae_resblock(f"{prefix}encoder.down.{i}.block.{j}.", ch, width))
            ch = width
        if i < len(widths) - 1:
            keys.update(_conv(f"{prefix}encoder.down.{i}.downsample.conv", ch, ch, 3))
    keys.update(_vae_mid(prefix + "encoder.mid.", ch))
    keys.update({**_norm(prefix + "encoder.norm_out", ch), **_conv(prefix + "encoder.conv_out", 2 * latent, ch, 3)})
    if quant_convs:
        keys.update(_conv(prefix + "quant_conv", 2 * latent, 2 * latent, 1))
        keys.update(_conv(prefix + "post_quant_conv", latent, latent, 1))
    keys.update(_conv(prefix + "decoder.conv_in", 512, latent, 3))
    keys.update(_vae_mid(prefix + "decoder.mid.", 512))
    ch = 512
    for i in reversed(range(len(widths))):
        for j in range(3):
            keys.update(_vae_resblock(f"{prefix}decoder.up.{i}.block.{j}.", ch, widths[i]))
            ch = widths[i]
        if i:
            keys.update(_conv(f"{prefix}decoder.up.{i}.upsample.conv", ch, ch, 3))
    keys.update({**_norm(prefix + "decoder.norm_out", 128), **_conv(prefix + "decoder.conv_out", 3, 128, 3)})
    return keys


# --- builders: whole checkpoints ------------------------------------------------------------------
def sd15_checkpoint(in_channels: int = 4) -> Keys:
    """v1-5-pruned-emaonly.safetensors (in_channels 9: sd-v1-5-inpainting)."""
    unet, _ = ldm_unet(in_channels=in_channels)
    return {
        **prefixed("model.diffusion_model.", unet),
        **ldm_vae("first_stage_model."),
        **clip_text("cond_stage_model.transformer."),
    }


def sd21_checkpoint() -> Keys:
    """v2-1_768-ema-pruned.safetensors: OpenCLIP ViT-H, linear projections, context 1024."""
    unet, _ = ldm_unet(context=1024, linear=True)
    return {
        **prefixed("model.diffusion_model.", unet),
        **ldm_vae("first_stage_model."),
        **open_clip_text("cond_stage_model.model.", 1024, 24),
    }


def sdxl_unet() -> Keys:
    unet, _ = ldm_unet(mults=(1, 2, 4), depths=(0, 2, 10), mid_depth=10, context=2048, linear=True, adm_in=2816)
    return unet


def sdxl_base_checkpoint() -> Keys:
    """sd_xl_base_1.0.safetensors: CLIP ViT-L + OpenCLIP bigG, size conditioning, context 2048."""
    return {
        **prefixed("model.diffusion_model.", sdxl_unet()),
        **ldm_vae("first_stage_model."),
        **clip_text("conditioner.embedders.0.transformer."),
        **open_clip_text("conditioner.embedders.1.model.", 1280, 32),
    }


def sdxl_refiner_checkpoint() -> Keys:
    """sd_xl_refiner_1.0.safetensors: 384 channels, OpenCLIP bigG alone (context 1280)."""
    unet, _ = ldm_unet(
        channels=384, mults=(1, 2, 4, 4), depths=(0, 4, 4, 0), mid_depth=4, context=1280, linear=True, adm_in=2560
    )
    return {
        **prefixed("model.diffusion_model.", unet),
        **ldm_vae("first_stage_model."),
        **open_clip_text("conditioner.embedders.0.model.", 1280, 32),
    }


def flux_bfl(guidance: bool, prefix: str = "") -> Keys:
    """flux1-dev / flux1-schnell.safetensors: 19 double blocks, 38 single blocks, hidden 3072."""
    hidden, mlp = 3072, 12288
    keys: Keys = {
        **_linear("img_in", hidden, 64),
        **_linear("txt_in", hidden, 4096),
        **_linear("time_in.in_layer", hidden, 256),
        **_linear("time_in.out_layer", hidden, hidden),
        **_linear("vector_in.in_layer", hidden, 768),
        **_linear("vector_in.out_layer", hidden, hidden),
        **_linear("final_layer.adaLN_modulation.1", 2 * hidden, hidden),
        **_linear("final_layer.linear", 64, hidden),
    }
    if guidance:
        keys.update(
            {**_linear("guidance_in.in_layer", hidden, 256), **_linear("guidance_in.out_layer", hidden, hidden)}
        )
    for i in range(19):
        for stream in ("img", "txt"):
            block = f"double_blocks.{i}.{stream}_"
            keys.update(
                {
                    **_linear(block + "mod.lin", 6 * hidden, hidden),
                    **_linear(block + "attn.qkv", 3 * hidden, hidden),
                    f"{block}attn.norm.query_norm.scale": (128,),
                    f"{block}attn.norm.key_norm.scale": (128,),
                    **_linear(block + "attn.proj", hidden, hidden),
                    **_linear(block + "mlp.0", mlp, hidden),
                    **_linear(block + "mlp.2", hidden, mlp),
                }
            )
    for i in range(38):
        block = f"single_blocks.{i}."
        keys.update(
            {
                **_linear(block + "linear1", 3 * hidden + mlp, hidden),
                **_linear(block + "linear2", hidden, hidden + mlp),
                f"{block}norm.query_norm.scale": (128,),
                f"{block}norm.key_norm.scale": (128,),
                **_linear(block + "modulation.lin", 3 * hidden, hidden),
            }
        )
    return prefixed(prefix, keys)


# --- builders: add-ons ----------------------------------------------------------------------------
def _lora(name: str, rank: int, inp: int, out: int, conv: bool = False) -> Keys:
    """kohya: `<name>.lora_down.weight` [rank, in], `.lora_up.weight` [out, rank], `.alpha` []."""
    tail = (1, 1) if conv else ()
    return {
        f"{name}.lora_down.weight": (rank, inp, *tail),
        f"{name}.lora_up.weight": (out, rank, *tail),
        f"{name}.alpha": (),
    }


def _kohya_attention(prefix: str, c: int, context: int, depth: int, rank: int, linear: bool) -> Keys:
    keys = {**_lora(prefix + "proj_in", rank, c, c, not linear), **_lora(prefix + "proj_out", rank, c, c, not linear)}
    for d in range(depth):
        block = f"{prefix}transformer_blocks_{d}_"
        for name in ("attn1_to_q", "attn1_to_k", "attn1_to_v", "attn1_to_out_0", "attn2_to_q", "attn2_to_out_0"):
            keys.update(_lora(block + name, rank, c, c))
        keys.update({**_lora(block + "attn2_to_k", rank, context, c), **_lora(block + "attn2_to_v", rank, context, c)})
        keys.update({**_lora(block + "ff_net_0_proj", rank, c, 8 * c), **_lora(block + "ff_net_2", rank, 4 * c, c)})
    return keys


def _kohya_text_encoder(prefix: str, width: int, layers: int, rank: int) -> Keys:
    keys: Keys = {}
    for i in range(layers):
        layer = f"{prefix}text_model_encoder_layers_{i}_"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            keys.update(_lora(f"{layer}self_attn_{proj}", rank, width, width))
        keys.update(
            {**_lora(layer + "mlp_fc1", rank, width, 4 * width), **_lora(layer + "mlp_fc2", rank, 4 * width, width)}
        )
    return keys


def kohya_sd_lora(rank: int = 16, context: int = 768, linear: bool = False) -> Keys:
    """sd-scripts LoRA for SD 1.x (or SD 2.x: context 1024, linear projections), diffusers module names."""
    places = [(f"down_blocks_{b}_attentions_{a}_", 320 * 2**b) for b in range(3) for a in range(2)]
    places += [(f"up_blocks_{b}_attentions_{a}_", 1280 // 2 ** (b - 1)) for b in range(1, 4) for a in range(3)]
    places.append(("mid_block_attentions_0_", 1280))
    keys: Keys = {}
    for place, c in places:
        keys.update(_kohya_attention("lora_unet_" + place, c, context, 1, rank, linear))
    keys.update(_kohya_text_encoder("lora_te_", context, 24 if context == 1024 else 12, rank))
    return keys


def kohya_sdxl_lora(rank: int = 32) -> Keys:
    """sd-scripts SDXL LoRA: LDM module names, 2 and 10 transformer blocks per attention, two encoders."""
    places = [("input_blocks_4_1_", 640, 2), ("input_blocks_5_1_", 640, 2)]
    places += [("input_blocks_7_1_", 1280, 10), ("input_blocks_8_1_", 1280, 10), ("middle_block_1_", 1280, 10)]
    places += [(f"output_blocks_{b}_1_", 1280, 10) for b in range(3)]
    places += [(f"output_blocks_{b}_1_", 640, 2) for b in range(3, 6)]
    keys: Keys = {}
    for place, c, depth in places:
        keys.update(_kohya_attention("lora_unet_" + place, c, 2048, depth, rank, linear=True))
    keys.update(_kohya_text_encoder("lora_te1_", 768, 12, rank))
    keys.update(_kohya_text_encoder("lora_te2_", 1280, 32, rank))
    return keys


def kohya_flux_lora(rank: int = 16) -> Keys:
    """sd-scripts FLUX.1 LoRA: `lora_unet_double_blocks_*` / `lora_unet_single_blocks_*`."""
    hidden, mlp = 3072, 12288
    keys: Keys = {}
    for i in range(19):
        for stream in ("img", "txt"):
            block = f"lora_unet_double_blocks_{i}_{stream}_"
            keys.update(
                {
                    **_lora(block + "attn_qkv", rank, hidden, 3 * hidden),
                    **_lora(block + "attn_proj", rank, hidden, hidden),
                    **_lora(block + "mlp_0", rank, hidden, mlp),
                    **_lora(block + "mlp_2", rank, mlp, hidden),
                    **_lora(block + "mod_lin", rank, hidden, 6 * hidden),
                }
            )
    for i in range(38):
        block = f"lora_unet_single_blocks_{i}_"
        keys.update(
            {
                **_lora(block + "linear1", rank, hidden, 3 * hidden + mlp),
                **_lora(block + "linear2", rank, hidden + mlp, hidden),
                **_lora(block + "modulation_lin", rank, hidden, 3 * hidden),
            }
        )
    return keys


def peft_sd15_lora(rank: int = 8, context: int = 768) -> Keys:
    """A diffusers training-script LoRA (peft names): attention projections of the UNet and text encoder."""
    keys: Keys = {}
    places = [(f"down_blocks.{b}.attentions.{a}.", 320 * 2**b) for b in range(3) for a in range(2)]
    places += [(f"up_blocks.{b}.attentions.{a}.", 1280 // 2 ** (b - 1)) for b in range(1, 4) for a in range(3)]
    for place, c in places:
        block = f"unet.{place}transformer_blocks.0."
        for attn, inp in (("attn1", c), ("attn2", context)):
            for proj, width in (("to_q", c), ("to_k", inp), ("to_v", inp), ("to_out.0", c)):
                keys[f"{block}{attn}.{proj}.lora_A.weight"] = (rank, width)
                keys[f"{block}{attn}.{proj}.lora_B.weight"] = (c, rank)
    for i in range(12):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            name = f"text_encoder.text_model.encoder.layers.{i}.self_attn.{proj}"
            keys[f"{name}.lora_A.weight"] = (rank, 768)
            keys[f"{name}.lora_B.weight"] = (768, rank)
    return keys


def ldm_controlnet_sd15() -> Keys:
    """control_v11p_sd15_canny.pth: the UNet encoder copy, the hint encoder and the zero convolutions."""
    unet, skips = ldm_unet(encoder_only=True)
    hint = [(16, 3), (16, 16), (32, 16), (32, 32), (96, 32), (96, 96), (256, 96), (320, 256)]
    keys = dict(unet)
    for i, (out, inp) in enumerate(hint):
        keys.update(_conv(f"input_hint_block.{2 * i}", out, inp, 3))
    for i, c in enumerate(skips):
        keys.update(_conv(f"zero_convs.{i}.0", c, c, 1))
    keys.update(_conv("middle_block_out.0", 1280, 1280, 1))
    return prefixed("control_model.", keys)


def index(keys: Keys, metadata: dict[str, str] | None = None) -> TensorIndex:
    return TensorIndex(shapes=keys, metadata=metadata or {})


# --- the builders are honest ----------------------------------------------------------------------
def test_builders_have_the_published_shapes() -> None:
    sd15 = sd15_checkpoint()
    assert sd15["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] == (320, 768)
    assert sd15["model.diffusion_model.input_blocks.1.1.proj_in.weight"] == (320, 320, 1, 1)
    assert sd15["model.diffusion_model.output_blocks.11.0.skip_connection.weight"] == (320, 640, 1, 1)
    assert sd15["model.diffusion_model.output_blocks.2.1.conv.weight"] == (1280, 1280, 3, 3)
    assert sd15["model.diffusion_model.output_blocks.5.2.conv.weight"] == (1280, 1280, 3, 3)
    assert sd15["first_stage_model.encoder.conv_out.weight"] == (8, 512, 3, 3)
    assert sd15["first_stage_model.decoder.up.0.block.0.nin_shortcut.weight"] == (128, 256, 1, 1)
    sdxl = sdxl_base_checkpoint()
    assert sdxl["model.diffusion_model.label_emb.0.0.weight"] == (1280, 2816)
    assert sdxl["model.diffusion_model.input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight"] == (640, 2048)
    assert sdxl["model.diffusion_model.input_blocks.7.1.transformer_blocks.9.attn2.to_k.weight"] == (1280, 2048)
    assert sdxl["model.diffusion_model.output_blocks.2.2.conv.weight"] == (1280, 1280, 3, 3)
    assert sdxl["conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight"] == (3840, 1280)
    refiner = sdxl_refiner_checkpoint()
    assert refiner["model.diffusion_model.input_blocks.0.0.weight"] == (384, 4, 3, 3)
    assert refiner["model.diffusion_model.label_emb.0.0.weight"] == (1536, 2560)
    assert refiner["model.diffusion_model.input_blocks.4.1.transformer_blocks.3.attn2.to_k.weight"] == (768, 1280)
    flux = flux_bfl(guidance=True)
    assert flux["double_blocks.18.img_attn.qkv.weight"] == (9216, 3072)
    assert flux["single_blocks.37.linear1.weight"] == (21504, 3072)
    assert flux["single_blocks.37.linear2.weight"] == (3072, 15360)


# --- checkpoints ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "base", "variant", "in_channels"),
    [
        (sd15_checkpoint(), SD15, None, 4),
        (sd15_checkpoint(in_channels=9), SD15, "inpainting", 9),
        (sd21_checkpoint(), SD2, None, 4),
        (sdxl_base_checkpoint(), SDXL, None, 4),
        (sdxl_refiner_checkpoint(), SDXL, "refiner", 4),
    ],
    ids=["sd15", "sd15-inpainting", "sd21", "sdxl-base", "sdxl-refiner"],
)
def test_sd_family_checkpoints(keys: Keys, base: str, variant: str | None, in_channels: int) -> None:
    detection = detect_checkpoint(index(keys))
    assert (detection.kind, detection.base_model, detection.variant) == ("checkpoint", base, variant)
    assert detection.details["in_channels"] == in_channels
    assert detection.details["components"] == ["unet", "vae", "text_encoder"]


def test_sd21_v_prediction_needs_a_marker() -> None:
    """768-v and 512-base share every shape; ComfyUI's `v_pred` key or ModelSpec metadata tells them apart."""
    assert detect_checkpoint(index(sd21_checkpoint())).variant is None
    assert detect_checkpoint(index({**sd21_checkpoint(), "v_pred": ()})).variant == "v-prediction"
    marked = index(sd21_checkpoint(), {"modelspec.prediction_type": "v"})
    assert detect_checkpoint(marked).variant == "v-prediction"


@pytest.mark.parametrize(
    ("keys", "base", "source"),
    [
        (ldm_unet()[0], SD15, "width"),
        (ldm_unet(context=1024, linear=True)[0], SD2, "width"),
        (sdxl_unet(), SDXL, "structure"),
        (prefixed("model.diffusion_model.", ldm_unet(context=1024, linear=True)[0]), SD2, "width"),
    ],
    ids=["sd15-unet", "sd2-unet", "sdxl-unet", "sd2-unet-prefixed"],
)
def test_unet_only_files(keys: Keys, base: str, source: str) -> None:
    detection = detect_checkpoint(index(keys))
    assert (detection.kind, detection.base_model) == ("checkpoint", base)
    assert detection.details["base_source"] == source
    assert detection.details["components"] == ["unet"]


def test_tiny_unet_without_text_encoder_falls_back_to_its_projection() -> None:
    """An unknown context width: convolution projections are SD 1.x's, linear ones SD 2.x's."""
    sd1 = ldm_unet(channels=32, mults=(1, 2), depths=(1, 0), context=32)[0]
    sd2 = ldm_unet(channels=32, mults=(1, 2), depths=(1, 0), context=48, linear=True)[0]
    assert detect_checkpoint(index(sd1)).base_model == SD15
    assert detect_checkpoint(index(sd2)).base_model == SD2
    assert detect_checkpoint(index(sd2), {**REAL_CONTEXT_WIDTHS, 48: SD15}).base_model == SD15


def test_diffusers_unet_file() -> None:
    keys: Keys = {
        "conv_in.weight": (320, 4, 3, 3),
        "down_blocks.0.attentions.0.proj_in.weight": (320, 320),
        "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight": (640, 2048),
        "add_embedding.linear_1.weight": (1280, 2816),
        "up_blocks.0.resnets.0.conv1.weight": (1280, 2560, 3, 3),
        "conv_out.weight": (4, 320, 3, 3),
    }
    detection = detect_checkpoint(index(keys))
    assert (detection.base_model, detection.details["layout"]) == (SDXL, "diffusers")


@pytest.mark.parametrize(("guidance", "base"), [(True, FLUX_DEV), (False, FLUX_SCHNELL)], ids=["dev", "schnell"])
def test_flux_bfl_layout(guidance: bool, base: str) -> None:
    detection = detect_checkpoint(index(flux_bfl(guidance)))
    assert (detection.kind, detection.base_model, detection.variant) == ("checkpoint", base, None)
    assert (detection.details["double_blocks"], detection.details["single_blocks"]) == (19, 38)
    assert detection.details["components"] == ["transformer"]


def test_flux_comfyui_all_in_one_and_fill() -> None:
    bundled = {
        **flux_bfl(guidance=True, prefix="model.diffusion_model."),
        **prefixed("vae.", ldm_vae(latent=16, quant_convs=False)),
        **clip_text("text_encoders.clip_l.transformer."),
    }
    detection = detect_checkpoint(index(bundled))
    assert detection.base_model == FLUX_DEV
    assert detection.details["components"] == ["transformer", "vae", "text_encoder"]
    fill = {**flux_bfl(guidance=True), "img_in.weight": (3072, 384)}  # latent + masked image + packed mask
    assert detect_checkpoint(index(fill)).variant == "inpainting"


@pytest.mark.parametrize("guidance", [True, False])
def test_flux_diffusers_layout(guidance: bool) -> None:
    keys: Keys = {
        "x_embedder.weight": (3072, 64),
        "context_embedder.weight": (3072, 4096),
        "transformer_blocks.0.attn.to_q.weight": (3072, 3072),
        "single_transformer_blocks.0.attn.to_q.weight": (3072, 3072),
        "proj_out.weight": (64, 3072),
    }
    if guidance:
        keys["time_text_embed.guidance_embedder.linear_1.weight"] = (3072, 256)
    assert detect_checkpoint(index(keys)).base_model == (FLUX_DEV if guidance else FLUX_SCHNELL)


def test_checkpoint_detector_rejects_other_kinds() -> None:
    for keys in (kohya_sd_lora(), ldm_controlnet_sd15(), ldm_vae(), {"emb_params": (2, 768)}):
        assert detect_checkpoint(index(keys)).kind == "unknown"


# --- LoRAs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "metadata", "base", "rank", "source"),
    [
        (kohya_sd_lora(16), {"ss_base_model_version": "sd_v1", "ss_network_dim": "16"}, SD15, 16, "metadata"),
        (kohya_sd_lora(16), {}, SD15, 16, "structure"),
        (kohya_sd_lora(8, context=1024, linear=True), {}, SD2, 8, "structure"),
        (kohya_sdxl_lora(32), {"ss_base_model_version": "sdxl_base_v1-0"}, SDXL, 32, "metadata"),
        (kohya_sdxl_lora(32), {}, SDXL, 32, "structure"),
        (kohya_flux_lora(16), {"ss_base_model_version": "flux1"}, FLUX_DEV, 16, "metadata"),
        (kohya_flux_lora(16), {}, FLUX_DEV, 16, "structure"),
        (peft_sd15_lora(8), {}, SD15, 8, "width"),
    ],
    ids=["sd15-meta", "sd15", "sd2", "sdxl-meta", "sdxl", "flux-meta", "flux", "diffusers-sd15"],
)
def test_loras(keys: Keys, metadata: dict[str, str], base: str, rank: int, source: str) -> None:
    detection = detect_lora(index(keys, metadata), REAL_CONTEXT_WIDTHS)
    assert (detection.kind, detection.base_model) == ("lora", base)
    assert detection.details["rank"] == rank
    assert detection.details["base_source"] == source


def test_lora_formats_and_widths() -> None:
    assert detect_lora(index(kohya_sd_lora())).details["format"] == "kohya"
    assert detect_lora(index(peft_sd15_lora())).details["format"] == "peft"
    assert detect_lora(index(peft_sd15_lora())).details["context_width"] == 768
    tiny = peft_sd15_lora(rank=4, context=32)
    assert detect_lora(index(tiny)).base_model == UNKNOWN
    assert detect_lora(index(tiny), {**REAL_CONTEXT_WIDTHS, 32: SD15}).base_model == SD15


def test_diffusers_flux_lora_and_lycoris() -> None:
    flux: Keys = {
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (16, 3072),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": (3072, 16),
        "transformer.single_transformer_blocks.0.proj_out.lora_A.weight": (16, 15360),
        "transformer.single_transformer_blocks.0.proj_out.lora_B.weight": (3072, 16),
    }
    assert (detect_lora(index(flux)).base_model, detect_lora(index(flux)).details["rank"]) == (FLUX_DEV, 16)
    loha: Keys = {
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_a": (320, 8),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_b": (8, 768),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w2_a": (320, 8),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w2_b": (8, 768),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": (),
    }
    detection = detect_lora(index(loha))
    assert (detection.kind, detection.base_model, detection.details["network"]) == ("lora", SD15, "loha")
    lokr: Keys = {
        "lora_unet_input_blocks_4_1_transformer_blocks_1_attn1_to_q.lokr_w1": (4, 4),
        "lora_unet_input_blocks_4_1_transformer_blocks_1_attn1_to_q.lokr_w2": (160, 160),
    }
    assert (detect_lora(index(lokr)).base_model, detect_lora(index(lokr)).details["network"]) == (SDXL, "lokr")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"ss_base_model_version": "sd_v1"}, (SD15, None)),
        ({"ss_base_model_version": "sd_v2"}, (SD2, None)),
        ({"ss_base_model_version": "sd_2.1"}, (SD2, None)),
        ({"ss_base_model_version": "sd_v2_v"}, (SD2, "v-prediction")),
        ({"ss_base_model_version": "sdxl_base_v1-0"}, (SDXL, None)),
        ({"ss_base_model_version": "sdxl_base_v0-9"}, (SDXL, None)),
        ({"ss_base_model_version": "flux1"}, (FLUX_DEV, None)),
        ({"ss_base_model_version": "sd3"}, (UNKNOWN, None)),
        ({"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}, (SDXL, None)),
        ({"modelspec.architecture": "flux-1-schnell/lora"}, (FLUX_SCHNELL, None)),
        ({"ss_v2": "True"}, (SD2, None)),
        ({"ss_v2": "False"}, None),
        ({}, None),
    ],
)
def test_training_metadata(metadata: dict[str, str], expected: tuple[str, str | None] | None) -> None:
    assert base_from_training_metadata(metadata) == expected


def test_lora_metadata_wins_over_structure() -> None:
    detection = detect_lora(index(kohya_sd_lora(), {"ss_base_model_version": "sd_v2"}))
    assert (detection.base_model, detection.details["base_source"]) == (SD2, "metadata")


# --- VAEs, embeddings, ControlNets, upscalers -----------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "base", "family", "latent"),
    [
        (ldm_vae(), SD15, "SD", 4),
        (ldm_vae("first_stage_model."), SD15, "SD", 4),
        (ldm_vae(latent=16, quant_convs=False), FLUX_DEV, "Flux", 16),
    ],
    ids=["sd", "sd-prefixed", "flux"],
)
def test_vaes(keys: Keys, base: str, family: str, latent: int) -> None:
    detection = detect_vae(index(keys))
    assert (detection.kind, detection.base_model) == ("vae", base)
    assert detection.details["family"] == family
    assert detection.details["latent_channels"] == latent


def test_vae_detector_rejects_a_whole_checkpoint() -> None:
    assert detect_vae(index(sd15_checkpoint())).kind == "unknown"


@pytest.mark.parametrize(
    ("keys", "base", "vectors", "width"),
    [
        ({"string_to_param.*": (4, 768)}, SD15, 4, 768),
        ({"string_to_param.*": (8, 1024)}, SD2, 8, 1024),
        ({"emb_params": (1, 768)}, SD15, 1, 768),
        ({"<cat-toy>": (768,)}, SD15, 1, 768),
        ({"clip_l": (2, 768), "clip_g": (2, 1280)}, SDXL, 2, 768),
        ({"emb_params": (3, 640)}, UNKNOWN, 3, 640),
    ],
    ids=["a1111-sd15", "a1111-sd2", "emb-params", "diffusers", "sdxl", "unknown-width"],
)
def test_embeddings(keys: Keys, base: str, vectors: int, width: int) -> None:
    detection = detect_embedding(index(keys), REAL_TEXT_WIDTHS)
    assert (detection.kind, detection.base_model) == ("embedding", base)
    assert (detection.details["vectors"], detection.details["width"]) == (vectors, width)


def test_ldm_controlnet() -> None:
    detection = detect_controlnet(index(ldm_controlnet_sd15()))
    assert (detection.kind, detection.base_model, detection.details["layout"]) == ("controlnet", SD15, "ldm")
    bare = {key.removeprefix("control_model."): shape for key, shape in ldm_controlnet_sd15().items()}
    assert detect_controlnet(index(bare)).base_model == SD15


def test_diffusers_sdxl_controlnet() -> None:
    keys: Keys = {
        "controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3),
        "conv_in.weight": (320, 4, 3, 3),
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
        "add_embedding.linear_1.weight": (1280, 2816),
        "controlnet_down_blocks.0.weight": (320, 320, 1, 1),
    }
    assert detect_controlnet(index(keys)).base_model == SDXL


def test_upscalers() -> None:
    rrdb: Keys = {
        "conv_first.weight": (64, 3, 3, 3),
        "body.0.rdb1.conv1.weight": (32, 64, 3, 3),
        "conv_body.weight": (64, 64, 3, 3),
        "conv_up1.weight": (64, 64, 3, 3),
        "conv_up2.weight": (64, 64, 3, 3),
        "conv_hr.weight": (64, 64, 3, 3),
        "conv_last.weight": (3, 64, 3, 3),
    }
    detection = detect_upscaler(index(rrdb))
    assert (detection.kind, detection.details["architecture"], detection.details["scale"]) == ("upscaler", "RRDBNet", 4)
    compact = {"body.0.weight": (64, 3, 3, 3), "body.1.weight": (64,), "body.34.weight": (48, 64, 3, 3)}
    assert detect_upscaler(index(compact)).details == {"architecture": "SRVGGNetCompact", "scale": 4}


# --- auto-detection -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "kind"),
    [
        (sd15_checkpoint(), "checkpoint"),
        (sdxl_base_checkpoint(), "checkpoint"),
        (flux_bfl(guidance=False), "checkpoint"),
        (kohya_sd_lora(), "lora"),
        (kohya_flux_lora(), "lora"),
        (peft_sd15_lora(), "lora"),
        (ldm_vae(), "vae"),
        ({"string_to_param.*": (2, 768)}, "embedding"),
        (ldm_controlnet_sd15(), "controlnet"),
        ({**sd15_checkpoint(), **ldm_controlnet_sd15()}, "controlnet"),  # the original full-model release
        ({"foo.weight": (3, 3), "bar.weight": (3,)}, "unknown"),
    ],
)
def test_auto_detection_finds_the_kind(keys: Keys, kind: str) -> None:
    assert detect_tensors(index(keys)).kind == kind


# --- diffusers folders (configs only) -------------------------------------------------------------
def test_folder_configs() -> None:
    sd2: dict[str, Any] = {
        "_class_name": "StableDiffusionPipeline",
        "text_encoder": {"architectures": ["CLIPTextModel"], "hidden_size": 1024, "hidden_act": "gelu"},
        "unet": {"_class_name": "UNet2DConditionModel", "cross_attention_dim": 1024, "in_channels": 4},
        "scheduler": {"_class_name": "DDIMScheduler", "prediction_type": "v_prediction"},
    }
    assert (detect_folder(sd2).base_model, detect_folder(sd2).variant) == (SD2, "v-prediction")
    refiner = {"_class_name": "StableDiffusionXLImg2ImgPipeline", "text_encoder": [None, None]}
    assert (detect_folder(refiner).base_model, detect_folder(refiner).variant) == (SDXL, "refiner")
    control = {"_class_name": "ControlNetModel", "addition_embed_type": "text_time", "cross_attention_dim": 2048}
    assert (detect_folder(control).kind, detect_folder(control).base_model) == ("controlnet", SDXL)
    vae = {"_class_name": "AutoencoderKL", "latent_channels": 16}
    assert (detect_folder(vae).kind, detect_folder(vae).base_model) == ("vae", FLUX_DEV)
    assert detect_folder({"_class_name": "StableDiffusion3Pipeline"}).base_model == UNKNOWN


# --- trigger words --------------------------------------------------------------------------------
def test_trigger_words() -> None:
    tags = '{"10_alice": {"alice": 5, " red hair": 3, "smile": 3}, "5_reg": {"smile": 4, "photo": 1}}'
    assert trigger_words({"ss_tag_frequency": tags}) == ["smile", "alice", "red hair", "photo"]
    assert trigger_words({"ss_tag_frequency": tags}, limit=2) == ["smile", "alice"]
    declared = {"modelspec.trigger_phrase": "alicestyle, portrait", "ss_tag_frequency": tags}
    assert trigger_words(declared)[:3] == ["alicestyle", "portrait", "smile"]
    assert trigger_words({"ss_tag_frequency": "{not json"}) == []
    assert trigger_words({"ss_tag_frequency": "[1, 2]"}) == []
    assert trigger_words({}) == []


# --- reading files --------------------------------------------------------------------------------
class Payload:
    """A class a pickle would have to import and build: code, which safe loading refuses."""


def test_pickle_with_a_custom_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "callback": Payload()}, path)
    with pytest.raises(ModelFileError, match="refused"):
        read_tensor_index(path)


def test_lightning_checkpoint_with_callbacks_and_numpy_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2022-era releases (sd-v1-4.ckpt) pickle Lightning's callback class as a dict key and the step as a
    numpy number: they load, with the class reference resolved to an inert stand-in."""
    module = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")
    callback_class = type("ModelCheckpoint", (), {"__module__": module.__name__})
    setattr(module, "ModelCheckpoint", callback_class)  # noqa: B010 - a module built at run time
    for name in ("pytorch_lightning", "pytorch_lightning.callbacks"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    path = tmp_path / "sd-v1-4.ckpt"
    checkpoint = {
        "state_dict": {"model.diffusion_model.out.2.weight": torch.zeros(4, 8, 3, 3)},
        "callbacks": {callback_class: {"best_model_score": torch.tensor(0.5)}},
        "global_step": np.int64(470000),
    }
    torch.save(checkpoint, path)
    monkeypatch.undo()
    assert read_tensor_index(path).shapes == {"model.diffusion_model.out.2.weight": (4, 8, 3, 3)}


def test_truncated_and_garbage_files(tmp_path: Path) -> None:
    whole = tmp_path / "whole.safetensors"
    save_file({"emb_params": torch.zeros(2, 768)}, str(whole))
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(whole.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="safetensors"):
        read_tensor_index(truncated)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelFileError):
        read_tensor_index(garbage)
    with pytest.raises(ModelFileError, match="unsupported"):
        read_tensor_index(tmp_path / "model.gguf")
    with pytest.raises(ModelFileError):
        read_tensor_index(tmp_path / "missing.safetensors")


def test_pickled_checkpoints_are_unwrapped_and_flattened(tmp_path: Path) -> None:
    lightning = tmp_path / "model.ckpt"
    torch.save(
        {"state_dict": {"model.diffusion_model.out.2.weight": torch.zeros(4, 8, 3, 3)}, "global_step": 7}, lightning
    )
    assert read_tensor_index(lightning) == TensorIndex({"model.diffusion_model.out.2.weight": (4, 8, 3, 3)}, {})
    legacy = tmp_path / "legacy.pt"  # pre-1.6 format: cannot be memory-mapped
    torch.save(
        {"string_to_param": {"*": torch.zeros(3, 768)}, "name": "x"}, legacy, _use_new_zipfile_serialization=False
    )
    assert read_tensor_index(legacy).shapes == {"string_to_param.*": (3, 768)}


# --- tiny real files ------------------------------------------------------------------------------
TINY = {**REAL_CONTEXT_WIDTHS, 32: SD15}  # what the catalog learns from the installed tiny SD 1.5
TINY_TEXT = {**REAL_TEXT_WIDTHS, 32: SD15}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "imgopen.testing", str(root)], check=True, env=env, capture_output=True)
    yield root


@pytest.mark.parametrize(
    ("rel_path", "hint", "expected"),
    [
        ("checkpoints/tiny-sd15", "checkpoint", ("checkpoint", SD15, None)),
        ("checkpoints/tiny-sd15-single.safetensors", "checkpoint", ("checkpoint", SD15, None)),
        ("checkpoints/tiny-sd15-inpainting", "checkpoint", ("checkpoint", SD15, "inpainting")),
        ("checkpoints/tiny-sdxl", "checkpoint", ("checkpoint", SDXL, None)),
        ("flux/tiny-flux-dev", "checkpoint", ("checkpoint", FLUX_DEV, None)),
        ("flux/tiny-flux-schnell", "checkpoint", ("checkpoint", FLUX_SCHNELL, None)),
        ("controlnet/tiny-control-sd15", "controlnet", ("controlnet", SD15, None)),
        ("vae/tiny-vae.safetensors", "vae", ("vae", SD15, None)),
        ("loras/tiny-style.safetensors", "lora", ("lora", SD15, None)),
        ("loras/tiny-detail.safetensors", "lora", ("lora", SD15, None)),
        ("embeddings/tinyneg.pt", "embedding", ("embedding", SD15, None)),
        ("embeddings/tinytoken.safetensors", "embedding", ("embedding", SD15, None)),
        ("loras/tiny-style.safetensors", "checkpoint", ("lora", SD15, None)),  # dropped in the wrong folder
    ],
)
def test_tiny_models(tiny_models: Path, rel_path: str, hint: str, expected: tuple[str, str, str | None]) -> None:
    detection = detect_file(tiny_models / rel_path, hint, context_widths=TINY, text_widths=TINY_TEXT)
    assert (detection.kind, detection.base_model, detection.variant) == expected


def test_tiny_model_details(tiny_models: Path) -> None:
    single = detect_file(tiny_models / "checkpoints/tiny-sd15-single.safetensors", "checkpoint")
    assert (single.base_model, single.details["context_width"], single.details["base_source"]) == (
        SD15,
        32,
        "structure",
    )
    assert detect_file(tiny_models / "checkpoints/tiny-sd15-inpainting", "checkpoint").details["in_channels"] == 9
    assert detect_file(tiny_models / "vae/tiny-vae.safetensors", "vae").details == {
        "latent_channels": 4,
        "layout": "ldm",
        "family": "SD",
    }
    assert detect_file(tiny_models / "loras/tiny-style.safetensors", "lora").details["rank"] == 4
    detail_lora = tiny_models / "loras/tiny-detail.safetensors"
    assert detect_file(detail_lora, "lora").base_model == UNKNOWN  # width 32 means nothing without the tiny SD 1.5
    assert detect_file(detail_lora, "lora", context_widths=TINY).details["rank"] == 4
    negative = detect_file(tiny_models / "embeddings/tinyneg.pt", "embedding", text_widths=TINY_TEXT)
    assert negative.details == {"vectors": 2, "width": 32}
    token = detect_file(tiny_models / "embeddings/tinytoken.safetensors", "embedding", text_widths=TINY_TEXT)
    assert token.details == {"vectors": 1, "width": 32}


def test_tiny_folder_description(tiny_models: Path) -> None:
    folder = read_diffusers_folder(tiny_models / "checkpoints/tiny-sdxl")
    assert folder["_class_name"] == "StableDiffusionXLPipeline"
    assert folder["unet"]["cross_attention_dim"] == 80
    assert folder["text_encoder_2"]["hidden_size"] == 48
    assert folder["tokenizer"] == ["transformers", "CLIPTokenizer"]  # no config.json: left as listed
    assert read_diffusers_folder(tiny_models / "controlnet/tiny-control-sd15")["_class_name"] == "ControlNetModel"
    with pytest.raises(ModelFileError):
        read_diffusers_folder(tiny_models / "loras")


def test_tiny_trigger_words(tiny_models: Path) -> None:
    metadata = read_tensor_index(tiny_models / "loras/tiny-style.safetensors").metadata
    assert trigger_words(metadata) == ["tinystyle", "red", "photo"]


def test_detection_is_a_value() -> None:
    assert Detection("lora", SD15, None, {"rank": 4}) == Detection("lora", SD15, details={"rank": 4})
