"""Tiny random-weight models of the real architectures, for tests, benchmarks and trying the server.

They run the same diffusers code as real models in a fraction of a second on a CPU. Sizes follow
the real layouts (SD 1.5: attention in the first level, a plain last level; SDXL: text_time
embedding and two text encoders; Flux: double and single blocks with a T5 encoder), scaled down.
A single-file SD 1.5 checkpoint is written in Automatic1111's key layout with a sidecar config
folder (`NAME.config/`), which is how imgopen loads single files of architectures it does not
ship configs for.
"""

from __future__ import annotations

import json
import shutil
import string
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

CLIP_TINY: dict[str, Any] = {
    "bos_token_id": 512,
    "eos_token_id": 513,
    "pad_token_id": 513,
    "hidden_size": 32,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-5,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "vocab_size": 514,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 32,
}


# --- tokenizers -----------------------------------------------------------------------------------
def _bytes_to_unicode() -> list[str]:
    """The GPT-2 / CLIP table that maps every byte to a printable character."""
    codes = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars = codes[:]
    extra = 0
    for byte in range(256):
        if byte not in codes:
            codes.append(byte)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def tiny_clip_tokenizer() -> Any:
    """A byte-level CLIP tokenizer with 514 ids: 256 bytes, 256 word-final bytes, BOS and EOS."""
    from transformers import CLIPTokenizer

    chars = _bytes_to_unicode()
    vocab = [*chars, *(c + "</w>" for c in chars), "<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: index for index, token in enumerate(vocab)}, merges=[], model_max_length=77)


def tiny_t5_tokenizer() -> Any:
    """A unigram T5 tokenizer over ASCII letters, digits and punctuation (<pad>=0, </s>=1, <unk>=2)."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    for char in string.ascii_letters + string.digits + string.punctuation:
        pieces += [(char, -3.0), ("\u2581" + char, -3.5)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


# --- components -----------------------------------------------------------------------------------
def _unet_sd(in_channels: int = 4) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )


def _vae(latent_channels: int = 4, **extra: Any) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=latent_channels,
        sample_size=64,
        layers_per_block=1,
        norm_num_groups=32,
        **extra,
    )


def _sd_scheduler() -> Any:
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _clip(hidden_act: str = "quick_gelu", hidden_size: int = 32, projection: bool = False) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(**{**CLIP_TINY, "hidden_act": hidden_act, "hidden_size": hidden_size})
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


# --- pipelines ------------------------------------------------------------------------------------
def sd15_pipeline(seed: int = 0, inpainting: bool = False) -> Any:
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    torch.manual_seed(seed)
    parts = {
        "unet": _unet_sd(9 if inpainting else 4),
        "vae": _vae(),
        "scheduler": _sd_scheduler(),
        "text_encoder": _clip(),
        "tokenizer": tiny_clip_tokenizer(),
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }
    cls = StableDiffusionInpaintPipeline if inpainting else StableDiffusionPipeline
    return cls(**parts, requires_safety_checker=False)


def sdxl_pipeline(seed: int = 0) -> Any:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    # Text encoder 2 is wider than 1 (48 vs 32): diffusers tells the two apart by width when it
    # reads a single file. The UNet's context is both, concatenated: 80.
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=96,  # 6 * 8 time ids + text_encoder_2 projection 48
        cross_attention_dim=80,
        norm_num_groups=1,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading"
    )
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    text_encoder_2 = CLIPTextModelWithProjection(
        CLIPTextConfig(**{**CLIP_TINY, "hidden_act": "gelu", "hidden_size": 48, "projection_dim": 48})
    )
    return StableDiffusionXLPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=_vae(),
        text_encoder=_clip("gelu"),
        text_encoder_2=text_encoder_2,
        tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_clip_tokenizer(),
        image_encoder=None,
        feature_extractor=None,
    )


def flux_pipeline(seed: int = 0, guidance: bool = True) -> Any:
    """FLUX.1 [dev] layout with a guidance embedding, or [schnell] without."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,  # 4 latent channels packed 2x2
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=guidance,
        axes_dims_rope=[4, 4, 8],
    )
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=192,
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            feed_forward_proj="gated-gelu",
            is_encoder_decoder=False,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    vae = _vae(4, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)
    return FluxPipeline(
        transformer=transformer,
        text_encoder=_clip("gelu"),
        text_encoder_2=t5,
        tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_t5_tokenizer(),
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )


def instruct_pix2pix_pipeline(seed: int = 0) -> Any:
    """SD 1.5 InstructPix2Pix: the UNet takes the noisy latents and the init image's latents (8 channels)."""
    from diffusers import StableDiffusionInstructPix2PixPipeline

    torch.manual_seed(seed)
    return StableDiffusionInstructPix2PixPipeline(
        unet=_unet_sd(8),
        vae=_vae(),
        scheduler=_sd_scheduler(),
        text_encoder=_clip(),
        tokenizer=tiny_clip_tokenizer(),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def flux_fill_pipeline(seed: int = 0) -> Any:
    """FLUX.1 Fill [dev]: the transformer also takes the masked image's latents and the mask, each
    packed like the latents (4 + 4 channels x 2x2 here, with a 2x VAE: 48 inputs, 16 outputs)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxFillPipeline, FluxTransformer2DModel

    base = flux_pipeline(seed)
    torch.manual_seed(seed + 1)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=48,
        out_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=True,
        axes_dims_rope=[4, 4, 8],
    )
    return FluxFillPipeline(
        transformer=transformer,
        text_encoder=base.text_encoder,
        text_encoder_2=base.text_encoder_2,
        tokenizer=base.tokenizer,
        tokenizer_2=base.tokenizer_2,
        vae=base.vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )


def sd15_controlnet(seed: int = 0) -> Any:
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    model = ControlNetModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        in_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
        conditioning_embedding_out_channels=(16, 32),
    )
    # A new ControlNet's zero convolutions (its outputs, and the last layer of the control image's
    # embedding) make it a no-op by design; a test model must steer the image, and by its control
    # image (or every preprocessor option would be invisible), so they get random weights too.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(
                ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")
            ):
                parameter.copy_(torch.randn_like(parameter) * 0.2)
    return model


# --- Automatic1111 single files -------------------------------------------------------------------
def unet_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """diffusers UNet keys -> the original (LDM) layout, for any number of levels and layers."""
    layers, levels = config["layers_per_block"], len(config["block_out_channels"])
    block_map: list[tuple[str, str]] = []
    for level in range(levels):
        for j in range(layers):
            block = (layers + 1) * level + j + 1
            block_map += [
                (f"input_blocks.{block}.0.", f"down_blocks.{level}.resnets.{j}."),
                (f"input_blocks.{block}.1.", f"down_blocks.{level}.attentions.{j}."),
            ]
        block_map.append(
            (f"input_blocks.{(layers + 1) * (level + 1)}.0.op.", f"down_blocks.{level}.downsamplers.0.conv.")
        )
        for j in range(layers + 1):
            block = (layers + 1) * level + j
            block_map += [
                (f"output_blocks.{block}.0.", f"up_blocks.{level}.resnets.{j}."),
                (f"output_blocks.{block}.1.", f"up_blocks.{level}.attentions.{j}."),
            ]
        has_attention = config["up_block_types"][level].startswith("CrossAttn")
        upsampler = f"output_blocks.{(layers + 1) * level + layers}.{2 if has_attention else 1}."
        block_map.append((upsampler, f"up_blocks.{level}.upsamplers.0."))
    block_map += [
        ("middle_block.1.", "mid_block.attentions.0."),
        ("middle_block.0.", "mid_block.resnets.0."),
        ("middle_block.2.", "mid_block.resnets.1."),
    ]
    top = {
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "conv_in.": "input_blocks.0.0.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
        "add_embedding.linear_1.": "label_emb.0.0.",
        "add_embedding.linear_2.": "label_emb.0.2.",
    }
    resnet = [
        ("in_layers.0", "norm1"),
        ("in_layers.2", "conv1"),
        ("out_layers.0", "norm2"),
        ("out_layers.3", "conv2"),
        ("emb_layers.1", "time_emb_proj"),
        ("skip_connection", "conv_shortcut"),
    ]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for diffusers_name, ldm_name in top.items():
            if new.startswith(diffusers_name):
                new = ldm_name + new[len(diffusers_name) :]
        if "resnets" in new:
            for ldm_name, diffusers_name in resnet:
                new = new.replace(diffusers_name, ldm_name)
        for ldm_name, diffusers_name in block_map:
            if new.startswith(diffusers_name):
                new = ldm_name + new[len(diffusers_name) :]
                break
        out["model.diffusion_model." + new] = value
    return out


def vae_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    """diffusers VAE keys -> the original layout (mid-block attention as 1x1 convolutions)."""
    levels, layers = len(config["block_out_channels"]), config["layers_per_block"]
    names = [
        ("nin_shortcut", "conv_shortcut"),
        ("norm_out", "conv_norm_out"),
        ("mid.attn_1.", "mid_block.attentions.0."),
    ]
    for level in range(levels):
        names += [
            (f"encoder.down.{level}.block.{j}.", f"encoder.down_blocks.{level}.resnets.{j}.") for j in range(layers)
        ]
        names += [
            (f"down.{level}.downsample.", f"down_blocks.{level}.downsamplers.0."),
            (f"up.{levels - 1 - level}.upsample.", f"up_blocks.{level}.upsamplers.0."),
        ]
        names += [
            (f"decoder.up.{levels - 1 - level}.block.{j}.", f"decoder.up_blocks.{level}.resnets.{j}.")
            for j in range(layers + 1)
        ]
    names += [(f"mid.block_{i + 1}.", f"mid_block.resnets.{i}.") for i in range(2)]
    attention = [
        ("norm.", "group_norm."),
        ("q.", "to_q."),
        ("k.", "to_k."),
        ("v.", "to_v."),
        ("proj_out.", "to_out.0."),
    ]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for ldm_name, diffusers_name in names:
            new = new.replace(diffusers_name, ldm_name)
        for ldm_name, diffusers_name in attention:
            new = new.replace("mid.attn_1." + diffusers_name, "mid.attn_1." + ldm_name)
        if "mid.attn_1." in new and new.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")):
            out[prefix + new] = value.reshape(*value.shape, 1, 1)  # linear -> 1x1 convolution
        else:
            out[prefix + new] = value
    return out


def clip_to_ldm(
    state: dict[str, torch.Tensor], prefix: str = "cond_stage_model.transformer."
) -> dict[str, torch.Tensor]:
    return {prefix + (k if k.startswith("text_model.") else "text_model." + k): v for k, v in state.items()}


def save_sd15_single_file(pipe: Any, path: Path) -> Path:
    """The pipeline as an A1111 checkpoint, with its config folder beside it (`NAME.config/`)."""
    state = {
        **unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config)),
        **vae_to_ldm(pipe.vae.state_dict(), dict(pipe.vae.config), "first_stage_model."),
        **clip_to_ldm(pipe.text_encoder.state_dict()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    config_dir = path.with_suffix(".config")
    pipe.save_pretrained(config_dir)
    for weights in config_dir.rglob("*.safetensors"):
        weights.unlink()  # a config folder: shapes and tokenizer, no weights
    return path


def save_vae_single_file(vae: Any, path: Path) -> Path:
    """A VAE in the LDM layout without prefix, as A1111's models/VAE holds them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = vae_to_ldm(vae.state_dict(), dict(vae.config), "")
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


# --- LoRAs and embeddings -------------------------------------------------------------------------
def random_unet_lora(unet: Any, seed: int, rank: int = 4, strength: float = 0.5) -> dict[str, torch.Tensor]:
    """A peft LoRA state for the UNet's attention projections, with non-zero up weights (a freshly
    initialised LoRA is a no-op by design, and a test LoRA must change the image)."""
    from peft import LoraConfig, get_peft_model_state_dict

    torch.manual_seed(seed)
    unet.add_adapter(
        LoraConfig(
            r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=["to_q", "to_k", "to_v", "to_out.0"]
        ),
        adapter_name="tiny",
    )
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn_like(parameter) * strength)
    state = {k: v.detach().clone() for k, v in get_peft_model_state_dict(unet, adapter_name="tiny").items()}
    unet.delete_adapters("tiny")
    return state


def save_kohya_lora(
    peft_state: dict[str, torch.Tensor], path: Path, base_model_version: str, tags: dict[str, int]
) -> Path:
    """A kohya-format LoRA (`lora_unet_*`) with sd-scripts style `ss_*` metadata."""
    from diffusers.utils import convert_state_dict_to_kohya

    kohya = convert_state_dict_to_kohya({"unet." + k: v for k, v in peft_state.items()})
    metadata = {
        "ss_base_model_version": base_model_version,
        "ss_network_module": "networks.lora",
        "ss_network_dim": "4",
        "ss_network_alpha": "4",
        "ss_tag_frequency": json.dumps({"1_dataset": tags}),
        "ss_output_name": path.stem,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in kohya.items()}, str(path), metadata=metadata)
    return path


def save_diffusers_lora(pipe_class: Any, peft_state: dict[str, torch.Tensor], path: Path) -> Path:
    """A diffusers-format LoRA file (`unet.*` keys), as diffusers' training scripts write them."""
    from diffusers.utils import convert_state_dict_to_diffusers

    folder = path.parent / f".{path.stem}-tmp"
    pipe_class.save_lora_weights(folder, unet_lora_layers=convert_state_dict_to_diffusers(peft_state))
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder / "pytorch_lora_weights.safetensors"), path)
    shutil.rmtree(folder)
    return path


def save_flux_lora(transformer: Any, path: Path, seed: int, rank: int = 4, strength: float = 0.5) -> Path:
    """A diffusers-format Flux LoRA (`transformer.*` keys) on the attention projections, with non-zero
    up weights; the transformer is left as it was."""
    from diffusers import FluxPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    torch.manual_seed(seed)
    transformer.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=["to_q", "to_k", "to_v"]),
        adapter_name="tiny",
    )
    with torch.no_grad():
        for name, parameter in transformer.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn_like(parameter) * strength)
    state = {k: v.detach().clone() for k, v in get_peft_model_state_dict(transformer, adapter_name="tiny").items()}
    transformer.delete_adapters("tiny")
    folder = path.parent / f".{path.stem}-tmp"
    FluxPipeline.save_lora_weights(folder, transformer_lora_layers=state)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder / "pytorch_lora_weights.safetensors"), path)
    shutil.rmtree(folder)
    return path


def save_embedding(path: Path, width: int, vectors: int, seed: int) -> Path:
    """A textual-inversion embedding: `.pt` in A1111's layout, `.safetensors` as `emb_params`."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(vectors, width, generator=generator)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".pt":
        torch.save({"string_to_param": {"*": weights}, "name": path.stem}, path)
    else:
        save_file({"emb_params": weights}, str(path))
    return path


# --- a whole models folder ------------------------------------------------------------------------
def write_models_folder(root: Path) -> dict[str, Path]:
    """A complete tiny models folder in imgopen's default layout; {label: path} of what it wrote."""
    from diffusers import StableDiffusionPipeline
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    root.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    sd = sd15_pipeline(seed=0)
    sd.save_pretrained(root / "checkpoints" / "tiny-sd15")
    written["sd15_folder"] = root / "checkpoints" / "tiny-sd15"
    written["sd15_file"] = save_sd15_single_file(sd, root / "checkpoints" / "tiny-sd15-single.safetensors")
    sd15_pipeline(seed=3, inpainting=True).save_pretrained(root / "checkpoints" / "tiny-sd15-inpainting")
    written["sd15_inpainting"] = root / "checkpoints" / "tiny-sd15-inpainting"
    sdxl_pipeline(seed=0).save_pretrained(root / "checkpoints" / "tiny-sdxl")
    written["sdxl"] = root / "checkpoints" / "tiny-sdxl"
    flux_pipeline(seed=0, guidance=True).save_pretrained(root / "flux" / "tiny-flux-dev")
    written["flux_dev"] = root / "flux" / "tiny-flux-dev"
    flux_pipeline(seed=1, guidance=False).save_pretrained(root / "flux" / "tiny-flux-schnell")
    written["flux_schnell"] = root / "flux" / "tiny-flux-schnell"
    sd15_controlnet(seed=0).save_pretrained(root / "controlnet" / "tiny-control-sd15")
    written["controlnet"] = root / "controlnet" / "tiny-control-sd15"
    sd15_controlnet(seed=1).save_pretrained(root / "controlnet" / "tiny-control-sd15-b")
    written["controlnet_b"] = root / "controlnet" / "tiny-control-sd15-b"
    torch.manual_seed(7)
    written["vae"] = save_vae_single_file(_vae(), root / "vae" / "tiny-vae.safetensors")
    lora = random_unet_lora(sd.unet, seed=11)
    written["lora_kohya"] = save_kohya_lora(
        lora, root / "loras" / "tiny-style.safetensors", "sd_v1", {"tinystyle": 8, "red": 3, "photo": 1}
    )
    written["lora_diffusers"] = save_diffusers_lora(
        StableDiffusionPipeline, random_unet_lora(sd.unet, seed=12), root / "loras" / "tiny-detail.safetensors"
    )
    width = int(sd.text_encoder.config.hidden_size)
    written["embedding_pt"] = save_embedding(root / "embeddings" / "tinyneg.pt", width, vectors=2, seed=21)
    written["embedding_st"] = save_embedding(root / "embeddings" / "tinytoken.safetensors", width, vectors=1, seed=22)
    return written
