"""The shipped config-only diffusers folders describe the real architectures, and the offline CLIP tokenizer gives
openai/clip-vit-large-patch14's ids. Models are built on the meta device: no weights, no memory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imgopen.engine import tokenizers
from imgopen.engine.tokenizers import (
    CONFIG_FOR_BASE_MODEL,
    CONFIGS_DIR,
    END_OF_TEXT,
    EXCLAMATION,
    SHIPPED_CONFIGS,
    clip_tokenizer_dir,
    materialize_config,
)

# Parameter counts of the published models. Stable Diffusion and CLIP numbers are the well-known counts of the
# released checkpoints; the FLUX.1-dev count is the published 11,901,408,320. Three have no widely quoted figure
# and are the counts these configs give, derived from a published one by the one layer that differs:
# - SDXL inpainting UNet: SDXL base + conv_in's 5 extra input channels (5 * 320 * 3 * 3 = 14,400).
# - FLUX.1-schnell: FLUX.1-dev minus the guidance embedder (256*3072+3072 + 3072*3072+3072 = 10,229,760).
# - FLUX VAE (ae.safetensors): SD VAE with 16 latent channels and no quant convs (+165,820).
SD15_UNET = 859_520_964
SD15_INPAINT_UNET = 859_535_364
SD2_UNET = 865_910_724
SDXL_UNET = 2_567_463_684
SDXL_INPAINT_UNET = SDXL_UNET + 5 * 320 * 3 * 3
SD_VAE = 83_653_863
FLUX_VAE = 83_819_683
CLIP_L_TEXT = 123_060_480
OPENCLIP_H_TEXT_23 = 340_387_840
OPENCLIP_BIGG_TEXT_PROJ = 694_659_840
FLUX_DEV = 11_901_408_320
FLUX_SCHNELL = FLUX_DEV - (256 * 3072 + 3072 + 3072 * 3072 + 3072)

EXPECTED_PARAMETERS: dict[tuple[str, str], int] = {
    ("sd15", "unet"): SD15_UNET,
    ("sd15", "vae"): SD_VAE,
    ("sd15", "text_encoder"): CLIP_L_TEXT,
    ("sd15_inpainting", "unet"): SD15_INPAINT_UNET,
    ("sd15_inpainting", "vae"): SD_VAE,
    ("sd15_inpainting", "text_encoder"): CLIP_L_TEXT,
    ("sd2", "unet"): SD2_UNET,
    ("sd2", "vae"): SD_VAE,
    ("sd2", "text_encoder"): OPENCLIP_H_TEXT_23,
    ("sd2_base", "unet"): SD2_UNET,
    ("sd2_base", "vae"): SD_VAE,
    ("sd2_base", "text_encoder"): OPENCLIP_H_TEXT_23,
    ("sdxl_base", "unet"): SDXL_UNET,
    ("sdxl_base", "vae"): SD_VAE,
    ("sdxl_base", "text_encoder"): CLIP_L_TEXT,
    ("sdxl_base", "text_encoder_2"): OPENCLIP_BIGG_TEXT_PROJ,
    ("sdxl_inpainting", "unet"): SDXL_INPAINT_UNET,
    ("sdxl_inpainting", "vae"): SD_VAE,
    ("sdxl_inpainting", "text_encoder"): CLIP_L_TEXT,
    ("sdxl_inpainting", "text_encoder_2"): OPENCLIP_BIGG_TEXT_PROJ,
    ("flux_dev", "transformer"): FLUX_DEV,
    ("flux_dev", "vae"): FLUX_VAE,
    ("flux_schnell", "transformer"): FLUX_SCHNELL,
    ("flux_schnell", "vae"): FLUX_VAE,
}

ASTRONAUT_IDS = [49406, 320, 1125, 539, 550, 18376, 49407]


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def build_on_meta(subfolder: str, config: dict[str, Any]) -> Any:
    """The model a component config describes, with every parameter on the meta device."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        if subfolder == "unet":
            from diffusers import UNet2DConditionModel

            return UNet2DConditionModel.from_config(config)
        if subfolder == "vae":
            from diffusers import AutoencoderKL

            return AutoencoderKL.from_config(config)
        if subfolder == "transformer":
            from diffusers import FluxTransformer2DModel

            return FluxTransformer2DModel.from_config(config)
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

        model_class = CLIPTextModelWithProjection if subfolder == "text_encoder_2" else CLIPTextModel
        assert config["architectures"] == [model_class.__name__]
        return model_class(CLIPTextConfig(**config))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tokenizer/config cache shared by this module's tests (each build takes a second)."""
    return tmp_path_factory.mktemp("engine-cache")


def test_shipped_names_match_folders() -> None:
    assert sorted(SHIPPED_CONFIGS) == sorted(p.name for p in CONFIGS_DIR.iterdir() if p.is_dir())
    assert {name for name, _ in EXPECTED_PARAMETERS} == set(SHIPPED_CONFIGS)
    assert set(CONFIG_FOR_BASE_MODEL.values()) <= set(SHIPPED_CONFIGS)
    assert {label for label, _ in CONFIG_FOR_BASE_MODEL} == {"SD 1.5", "SD 2.x", "SDXL 1.0", "Flux.1 D", "Flux.1 S"}


def test_every_model_config_is_counted() -> None:
    """A model config added to a shipped folder gets a parameter count here too."""
    found = {(p.parent.parent.name, p.parent.name) for p in CONFIGS_DIR.glob("*/*/config.json")}
    assert found == set(EXPECTED_PARAMETERS)


def test_no_tokenizer_files_are_shipped() -> None:
    assert not [p for p in CONFIGS_DIR.rglob("*") if p.is_file() and p.parent.name.startswith("tokenizer")]


@pytest.mark.parametrize(("name", "subfolder"), sorted(EXPECTED_PARAMETERS))
def test_parameter_count(name: str, subfolder: str) -> None:
    config = read_json(CONFIGS_DIR / name / subfolder / "config.json")
    model = build_on_meta(subfolder, config)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMETERS[(name, subfolder)]


@pytest.mark.parametrize("name", sorted(SHIPPED_CONFIGS))
def test_model_index_and_scheduler_load(name: str) -> None:
    import diffusers

    folder = CONFIGS_DIR / name
    pipeline_class = getattr(diffusers, read_json(folder / "model_index.json")["_class_name"])
    index = pipeline_class.load_config(str(folder))
    for component in ("unet", "transformer", "vae", "scheduler", "text_encoder", "text_encoder_2"):
        if component not in index or index[component][0] is None:
            continue
        library, class_name = index[component]
        if (folder / component).is_dir():
            files = {p.name for p in (folder / component).iterdir()}
            assert files == {"scheduler_config.json" if component == "scheduler" else "config.json"}
        if component == "scheduler":
            config = read_json(folder / component / "scheduler_config.json")
            assert config["_class_name"] == class_name
            scheduler = getattr(diffusers, class_name).from_config(config)
            assert scheduler.config.num_train_timesteps == 1000
        elif library == "diffusers" and (folder / component).is_dir():
            assert read_json(folder / component / "config.json")["_class_name"] == class_name


@pytest.mark.parametrize(
    ("name", "pipeline", "prediction", "in_channels"),
    [
        ("sd15", "StableDiffusionPipeline", "epsilon", 4),
        ("sd15_inpainting", "StableDiffusionInpaintPipeline", "epsilon", 9),
        ("sd2", "StableDiffusionPipeline", "v_prediction", 4),
        ("sd2_base", "StableDiffusionPipeline", "epsilon", 4),
        ("sdxl_base", "StableDiffusionXLPipeline", "epsilon", 4),
        ("sdxl_inpainting", "StableDiffusionXLInpaintPipeline", "epsilon", 9),
    ],
)
def test_unet_pipelines(name: str, pipeline: str, prediction: str, in_channels: int) -> None:
    folder = CONFIGS_DIR / name
    index = read_json(folder / "model_index.json")
    assert index["_class_name"] == pipeline
    assert index["_diffusers_version"]
    scheduler = read_json(folder / "scheduler" / "scheduler_config.json")
    assert scheduler.get("prediction_type", "epsilon") == prediction
    assert read_json(folder / "unet" / "config.json")["in_channels"] == in_channels
    if name.startswith("sdxl"):
        vae = read_json(folder / "vae" / "config.json")
        assert (vae["force_upcast"], vae["scaling_factor"]) == (True, 0.13025)
        assert read_json(folder / "unet" / "config.json")["addition_embed_type"] == "text_time"
        assert scheduler["_class_name"] == "EulerDiscreteScheduler"
        assert index["tokenizer_2"] == ["transformers", "CLIPTokenizer"]
    else:
        assert index["safety_checker"] == [None, None]
        assert index["feature_extractor"] == [None, None]
        assert index["requires_safety_checker"] is False
    if name == "sd15":
        assert scheduler["_class_name"] == "PNDMScheduler"


@pytest.mark.parametrize(("name", "guidance"), [("flux_dev", True), ("flux_schnell", False)])
def test_flux(name: str, guidance: bool) -> None:
    folder = CONFIGS_DIR / name
    assert read_json(folder / "model_index.json")["_class_name"] == "FluxPipeline"
    assert read_json(folder / "transformer" / "config.json")["guidance_embeds"] is guidance
    # dev shifts its sigmas by resolution; schnell (4 steps) does not.
    assert read_json(folder / "scheduler" / "scheduler_config.json")["use_dynamic_shifting"] is guidance


def test_tokenizer_ids_and_pads(cache_dir: Path) -> None:
    from transformers import CLIPTokenizer

    openai = CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir(cache_dir)))
    openclip = CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir(cache_dir, EXCLAMATION)))
    for tokenizer in (openai, openclip):
        assert tokenizer("a photo of an astronaut").input_ids == ASTRONAUT_IDS
        assert len(tokenizer) == 49408
        assert tokenizer.model_max_length == 77
        assert (tokenizer.bos_token_id, tokenizer.eos_token_id) == (49406, 49407)
    assert openai.pad_token_id == 49407
    assert openclip.pad_token_id == 0
    padded = openclip("a photo of an astronaut", padding="max_length").input_ids
    assert padded == ASTRONAUT_IDS + [0] * (77 - len(ASTRONAUT_IDS))


def test_tokenizer_folder_is_reused(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = clip_tokenizer_dir(cache_dir)
    assert first == cache_dir / "clip-endoftext"
    assert clip_tokenizer_dir(cache_dir, EXCLAMATION) == cache_dir / "clip-u21"

    def no_rebuild(pad_token: str = END_OF_TEXT) -> None:
        raise AssertionError("rebuilt")

    monkeypatch.setattr(tokenizers, "build_clip_tokenizer", no_rebuild)
    assert clip_tokenizer_dir(cache_dir) == first
    # No staging folders are left behind.
    assert sorted(p.name for p in cache_dir.iterdir() if p.name.startswith(".")) == []


def test_unknown_pad_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not in the CLIP vocabulary"):
        clip_tokenizer_dir(tmp_path, "<pad>")


def test_materialize_sd15(cache_dir: Path) -> None:
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    folder = materialize_config("sd15", cache_dir)
    assert folder == cache_dir / "configs" / "sd15"
    config = StableDiffusionPipeline.load_config(str(folder))
    assert config["_class_name"] == "StableDiffusionPipeline"
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    assert tokenizer("a photo of an astronaut").input_ids == ASTRONAUT_IDS
    assert tokenizer.pad_token_id == 49407
    # The way diffusers' loaders read components: folder plus subfolder.
    from_subfolder = CLIPTokenizer.from_pretrained(str(folder), subfolder="tokenizer")
    assert from_subfolder("a photo of an astronaut").input_ids == ASTRONAUT_IDS
    assert PNDMScheduler.from_pretrained(str(folder), subfolder="scheduler").config.skip_prk_steps is True
    # The shipped package folder stays tokenizer-free.
    assert not (CONFIGS_DIR / "sd15" / "tokenizer").exists()


def test_materialize_sdxl_pads(cache_dir: Path) -> None:
    from transformers import CLIPTokenizer

    folder = materialize_config("sdxl_base", cache_dir)
    assert CLIPTokenizer.from_pretrained(str(folder / "tokenizer")).pad_token_id == 49407
    assert CLIPTokenizer.from_pretrained(str(folder / "tokenizer_2")).pad_token_id == 0


def test_materialize_reuses_and_refreshes(cache_dir: Path) -> None:
    folder = materialize_config("sd2", cache_dir)
    marker = folder / "unet" / "marker"
    marker.write_text("kept while the shipped files are unchanged")
    assert materialize_config("sd2", cache_dir) == folder
    assert marker.exists()

    # A copy made from other shipped files (an older package) is replaced whole.
    (folder / ".imgopen-source").write_text("older\n")
    assert materialize_config("sd2", cache_dir) == folder
    assert not marker.exists()
    assert (folder / "tokenizer" / "tokenizer.json").is_file()
    assert [p.name for p in (cache_dir / "configs").iterdir() if p.name.startswith(".")] == []


def test_materialize_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no shipped config"):
        materialize_config("sd3", tmp_path)
