"""The diffusion engine: the model cache, device placement, and the entry points the SD endpoints
and the Flux tool run through."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from PIL import Image

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.catalog.detect import FLUX_FAMILIES
from imgopen.config import Settings
from imgopen.engine.cache import ModelCache, default_budget
from imgopen.engine.checks import check_generation
from imgopen.engine.device import Placement, choose_placement, is_out_of_memory
from imgopen.engine.generate import Generator, infotext
from imgopen.engine.inpaint import InpaintJob, InpaintOutcome, run_inpaint
from imgopen.engine.loader import load_controlnet, load_pipeline, load_vae
from imgopen.engine.params import Text2ImageParams
from imgopen.engine.pipelines import LoadedCheckpoint
from imgopen.engine.resolve import Resolved
from imgopen.engine.results import SdImage, SdResult
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.vision.control.models import AnnotatorModels
from imgopen.vision.upscale.service import Upscalers

log = logging.getLogger(__name__)
T = TypeVar("T")
# Restores faces in an image (the face tools' restorer).
FaceRestorer = Callable[[Image.Image], Image.Image]


def model_cache(settings: Settings) -> ModelCache:
    """A worker's one model cache, within IMGOPEN_MODEL_CACHE_GB (0: default_budget)."""
    if settings.model_cache_gb:
        return ModelCache(int(settings.model_cache_gb * (1 << 30)))
    return ModelCache(default_budget(choose_placement(settings.device, settings.dtype)))


class DiffusionEngine:
    def __init__(
        self,
        catalog: ModelCatalog,
        settings: Settings,
        face_restorer: FaceRestorer | None = None,
        cache: ModelCache | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.placement = choose_placement(settings.device, settings.dtype)
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        # Every model of the worker, the tools' included (whoever builds both passes the same one).
        self.cache = cache if cache is not None else model_cache(settings)
        self.cache_dir: Path = settings.data_dir / "cache"
        # restore_faces: the face tools' restorer, passed in by whoever builds both (None: not available).
        self.face_restorer = face_restorer
        # One upscaler service for the hires fix and the pixel tools.
        self.upscalers = Upscalers(settings.models_dir, settings.torch_threads, self.cache)
        # The ControlNet preprocessors' networks, for the SD endpoints and cnt/preview.
        self.annotators = AnnotatorModels(self.cache)
        _quiet_libraries()

    # --- models ---------------------------------------------------------------------------------
    @contextmanager
    def checkpoint(self, entry: ModelEntry) -> Iterator[LoadedCheckpoint]:
        """The checkpoint's pipeline, loaded or warm, held by the caller for the block."""

        def load() -> LoadedCheckpoint:
            donor = self._flux_donor(entry) if entry.base_model in FLUX_FAMILIES and not entry.is_folder else None
            pipe = load_pipeline(entry, self._placement_for(entry), self.cache_dir, donor)
            return LoadedCheckpoint.wrap(entry, pipe)

        with self.cache.use(f"checkpoint:{entry.path}:{entry.mtime_ns}", load) as item:
            yield item.value

    def vae(self, entry: ModelEntry, checkpoint: ModelEntry) -> Any:
        key = f"vae:{entry.path}:{entry.mtime_ns}:{checkpoint.path}"
        return self.cache.get(key, lambda: load_vae(entry, checkpoint, self.placement, self.cache_dir)).value

    def controlnet(self, entry: ModelEntry) -> Any:
        key = f"controlnet:{entry.path}:{entry.mtime_ns}"
        return self.cache.get(key, lambda: load_controlnet(entry, self.placement)).value

    def _placement_for(self, entry: ModelEntry) -> Placement:
        if entry.base_model in FLUX_FAMILIES and self.settings.dtype == "auto":
            return choose_placement(self.settings.device, "auto", prefer_bf16=True)
        return self.placement

    def _flux_donor(self, entry: ModelEntry) -> ModelEntry | None:
        """An installed Flux diffusers folder to borrow text encoders and VAE from."""
        folders = [e for e in self.catalog.entries("checkpoint") if e.is_folder and e.base_model in FLUX_FAMILIES]
        folders.sort(key=lambda e: (e.base_model != entry.base_model, e.name))
        return folders[0] if folders else None

    def unload(self) -> list[str]:
        """Drop every model not in use (the tools' too); the keys dropped."""
        return self.cache.unload()

    def loaded(self) -> dict[str, list[str]]:
        """Catalog names of the checkpoints in the cache and of the LoRAs applied to them (what a
        cluster worker reports, so that tasks for them come here first)."""
        checkpoints = [value for value in self.cache.values() if isinstance(value, LoadedCheckpoint)]
        return {
            "checkpoints": sorted({c.entry.name for c in checkpoints}),
            "loras": sorted({Path(path).stem for c in checkpoints for path in c.adapters}),
        }

    def inpaint(self, job: InpaintJob, ctx: TaskContext) -> InpaintOutcome:
        """SD inpainting for the tools: see engine/inpaint.py."""
        return run_inpaint(self, job, ctx)

    def has_checkpoint(self) -> bool:
        """Whether an SD checkpoint is installed (tools fall back to classical methods if not)."""
        from imgopen.engine.resolve import GENERATION_FAMILIES

        return any(e.base_model in GENERATION_FAMILIES for e in self.catalog.entries("checkpoint"))

    # --- generation -----------------------------------------------------------------------------
    def check(self, params: Text2ImageParams) -> Resolved:
        """The submit-time checks again, as the task starts (files may have gone meanwhile)."""
        return check_generation(params, self.catalog, self.upscalers.naming, self.settings.default_checkpoint)

    def with_memory_retry(self, run: Callable[[], T], what: str) -> T:
        """Out of memory: free every cached model not in use and try once more."""
        try:
            return run()
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            dropped = self.cache.unload()
            log.warning("%s: out of memory; unloaded %s and retrying once", what, dropped)
        try:
            return run()
        except Exception as exc:
            if is_out_of_memory(exc):
                raise ImgOpenError(
                    "500",
                    f"{what}: out of memory on {self.placement.device} even with every other model unloaded; try a "
                    "smaller size or batch, or lower IMGOPEN_MODEL_CACHE_GB",
                ) from exc
            raise

    def generate(self, params: Text2ImageParams, ctx: TaskContext) -> SdResult:
        resolved = self.check(params)
        for warning in resolved.warnings:
            ctx.warn(warning)
        ctx.progress(0.01, {"step": 0, "totalSteps": params.steps * params.n_iter}, force=True)

        def run() -> SdResult:
            with self.checkpoint(resolved.checkpoint) as loaded:
                return self._generate(loaded, params, resolved, ctx)

        return self.with_memory_retry(run, f"generation {params.width}x{params.height} x{params.image_count}")

    def _generate(
        self, loaded: LoadedCheckpoint, params: Text2ImageParams, resolved: Resolved, ctx: TaskContext
    ) -> SdResult:
        vae = self.vae(resolved.vae, resolved.checkpoint) if resolved.vae else None
        controlnets = [self.controlnet(entry) for _unit, entry in resolved.controlnets]
        loaded.apply_loras(resolved.loras)
        loaded.load_embeddings(resolved.embeddings)
        generator = Generator(loaded, params, resolved, ctx, vae, controlnets, self.upscalers, self.annotators)
        images = generator.run()
        extra: dict[str, Any] = {}
        if params.ADetailer is not None and params.ADetailer.args:
            from imgopen.engine.adetailer import redraw_faces

            images, faces = redraw_faces(self._face_detector(), generator, images)
            extra["ADetailer faces"] = faces
        if params.restore_faces:
            images = self._restore_faces(images, ctx)
        saved = []
        for index, (image, seed) in enumerate(zip(images, generator.seeds, strict=True)):
            text = infotext(params, resolved, seed, extra, generator.size)
            key = ctx.save_image(image, name=f"image-{index + 1}", fmt=params.fmt, parameters=text)
            saved.append(SdImage(image=key, seed=seed))
        info = {
            "checkpoint": resolved.checkpoint.name,
            "baseModel": resolved.checkpoint.base_model,
            "vae": resolved.vae.name if resolved.vae else None,
            "loras": [{"name": use.entry.stem, "weight": use.weight} for use in resolved.loras],
            "embeddings": [entry.stem for entry in resolved.embeddings],
            "sampler": "Euler" if resolved.is_flux else params.sampler_name,
            "seeds": generator.seeds,
            "infotext": infotext(params, resolved, generator.seeds[0], extra, generator.size),
            "device": str(self.placement.device),
            "skipped": generator.skipped,  # images a skip ended early (A1111's skip)
            **extra,
        }
        return SdResult(images=saved, info=info, method=f"diffusers:{type(loaded.pipe).__name__}")

    def _face_detector(self) -> Any:
        from imgopen.vision.faces import FaceDetector

        return FaceDetector(self.cache)  # holds nothing: its graphs are in the cache

    def _restore_faces(self, images: list[Image.Image], ctx: TaskContext) -> list[Image.Image]:
        if self.face_restorer is None:
            ctx.warn("restore_faces: no face restorer is available on this server; the images are not restored")
            return images
        with contextlib.suppress(ImgOpenError):
            return [self.face_restorer(image) for image in images]
        ctx.warn("restore_faces: the face restorer failed; the images are not restored")
        return images


def _quiet_libraries() -> None:
    """No progress bars from loading (they go to the server log as noise)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
