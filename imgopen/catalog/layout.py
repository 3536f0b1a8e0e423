"""Where each kind of model lives in a models folder: imgopen's layout, and the folder names of
Automatic1111 (`models/Stable-diffusion`, `models/Lora`...) and ComfyUI, so users can point
imgopen at the folders they already have."""

from __future__ import annotations

from pathlib import Path

# kind -> folder names under the models folder, imgopen's own first.
FOLDERS: dict[str, tuple[str, ...]] = {
    "checkpoint": ("checkpoints", "Stable-diffusion", "flux", "diffusers", "diffusion_models", "unet"),
    "lora": ("loras", "Lora", "LyCORIS"),
    "vae": ("vae", "VAE"),
    "embedding": ("embeddings",),
    "controlnet": ("controlnet", "ControlNet"),
    "upscaler": ("upscale_models", "ESRGAN", "RealESRGAN", "SwinIR"),
}
WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".onnx")
SIDECAR_SUFFIX = ".config"  # `NAME.config/`: a diffusers config folder for the single file NAME.*
PREVIEW_SUFFIXES = (".preview.png", ".preview.jpg", ".preview.jpeg", ".preview.webp", ".png", ".jpg", ".jpeg", ".webp")


def kind_folders(models_dir: Path, kind: str) -> list[Path]:
    """Existing folders that hold models of `kind`. A1111 keeps embeddings beside `models/`, at
    the root of the web UI, so `../embeddings` counts too."""
    candidates = [models_dir / name for name in FOLDERS[kind]]
    if kind == "embedding":
        candidates.append(models_dir.parent / "embeddings")
    seen: list[Path] = []
    for folder in candidates:
        if folder.is_dir() and folder.resolve() not in [s.resolve() for s in seen]:
            seen.append(folder)
    return seen


def default_folder(models_dir: Path, kind: str) -> Path:
    """Where imgopen itself puts (and tells users to put) a model of `kind`."""
    return models_dir / FOLDERS[kind][0]


def is_diffusers_folder(path: Path) -> bool:
    """A pipeline folder (model_index.json) or a component folder (config.json with weights)."""
    if (path / "model_index.json").is_file():
        return True
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    return (path / "config.json").is_file() and has_weights


def preview_for(path: Path) -> Path | None:
    """An image beside the model with the same name (A1111's convention), or inside its folder."""
    stem = path.name if path.is_dir() else path.name[: -len(path.suffix)] if path.suffix else path.name
    for suffix in PREVIEW_SUFFIXES:
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    if path.is_dir():
        for name in ("preview.png", "preview.jpg", "preview.webp"):
            if (path / name).is_file():
                return path / name
    return None
