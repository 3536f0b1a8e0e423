"""What `model` / `hr_upscaler` may name, without loading anything: the bundled Real-ESRGAN
networks (by their names and A1111's) and the files installed in the upscaler folders.

Light on purpose (no torch): the API role checks names at submit time with it.
"""

from __future__ import annotations

from pathlib import Path

from imgopen.catalog.layout import kind_folders
from imgopen.errors import ImgOpenError
from imgopen.vision.upscale.bundled_models import A1111_NAMES, installed

AUTO = "auto"
LANCZOS = "lanczos"
DEFAULT_FAMILY = "realesr-animevideov3"
TORCH_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors", ".bin")
ONNX_SUFFIXES = (".onnx",)
SUFFIXES = TORCH_SUFFIXES + ONNX_SUFFIXES


_A1111_LOWER = {name.lower(): target for name, target in A1111_NAMES.items()}


def name_key(model: str) -> str:
    """The lower-case name, A1111's names turned into the bundled ones."""
    key = model.strip().lower()
    return _A1111_LOWER.get(key, key)


class UpscalerNames:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir

    def files(self) -> list[Path]:
        """Installed upscaler files, in the catalog's folder order."""
        found: list[Path] = []
        for folder in kind_folders(self.models_dir, "upscaler"):
            found += sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        return found

    def file_named(self, key: str) -> Path | None:
        """The installed file named `key` (lower case): its name, stem, or path inside its folder."""
        folders = kind_folders(self.models_dir, "upscaler")
        for path in self.files():
            names = {path.name.lower(), path.name[: -len(path.suffix)].lower()}
            names |= {str(path.relative_to(f)).lower() for f in folders if path.is_relative_to(f)}
            if key in names:
                return path
        return None

    def names(self) -> list[str]:
        """Every value `model` accepts."""
        families = dict.fromkeys(m.family for m in installed())
        return list(dict.fromkeys([AUTO, LANCZOS, *families, *(path.name for path in self.files())]))

    def knows(self, model: str) -> bool:
        """Whether `model` names an upscaler (bundled, by A1111's name, or an installed file)."""
        key = name_key(model)
        if key in (AUTO, LANCZOS, ""):
            return True
        return any(key in (m.family, m.name) for m in installed()) or self.file_named(key) is not None

    def check(self, model: str) -> None:
        """ "400" (listing the valid names) unless `model` names an upscaler."""
        if not self.knows(model):
            raise ImgOpenError("400", f"model: no upscaler named {model!r}; valid: {', '.join(self.names())}")
