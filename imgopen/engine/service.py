"""The diffusion engine: the model cache, device placement, and the entry points the SD endpoints
and the Flux tool run through."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from PIL import Image

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.catalog.detect import FLUX_FAMILIES
from imgopen.config import Settings
from imgopen.engine.cache import ModelCache, default_budget
from imgopen.engine.checks import check_generation
from imgopen.engine.coalesce import BatchRun, Member, MemberDone, batch_key
from imgopen.engine.device import Placement, choose_placement, cpu_has_native_bf16, is_out_of_memory
from imgopen.engine.fast_path import (
    SpeedPlan,
    apply_fast_path,
    prepare_vae,
    sizes_of,
    speed_plan,
    use_compile_cache,
)
from imgopen.engine.generate import Generator, flux_max_sequence, generation_size, infotext
from imgopen.engine.inpaint import InpaintJob, InpaintOutcome, run_inpaint
from imgopen.engine.loader import load_controlnet, load_pipeline, load_vae
from imgopen.engine.params import Text2ImageParams
from imgopen.engine.pipelines import LoadedCheckpoint
from imgopen.engine.prompt_encoding import encode_prompts
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
        if self.placement.device.type == "cpu" and self.placement.dtype == torch.float32 and cpu_has_native_bf16():
            log.info("this CPU computes bf16 natively: IMGOPEN_DTYPE=bf16 generates about 1.8 times as fast")
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
        # torch.compile's backend for the fast path ("eager" in tests: compilations counted, nothing generated).
        self.compile_backend = "inductor"
        if settings.compile != "off":
            use_compile_cache(self.cache_dir / "inductor")
        _quiet_libraries()

    # --- models ---------------------------------------------------------------------------------
    @contextmanager
    def checkpoint(self, entry: ModelEntry) -> Iterator[LoadedCheckpoint]:
        """The checkpoint's pipeline, loaded or warm, held by the caller for the block."""

        def load() -> LoadedCheckpoint:
            donor = self._flux_donor(entry) if entry.base_model in FLUX_FAMILIES and not entry.is_folder else None
            pipe = load_pipeline(entry, self._placement_for(entry), self.cache_dir, donor)
            plan = self.speed_plan(entry)
            fast = apply_fast_path(pipe, plan)
            log.info("%s: fast path %s", entry.name, plan.describe())
            return LoadedCheckpoint.wrap(entry, pipe, fast, self.settings.lora_max_rank)

        with self.cache.use(f"checkpoint:{entry.path}:{entry.mtime_ns}", load) as item:
            yield item.value

    def speed_plan(self, entry: ModelEntry) -> SpeedPlan:
        """What the fast path (IMGOPEN_COMPILE) does to this checkpoint here."""
        plan = speed_plan(self.settings.compile, self._placement_for(entry), entry.base_model in FLUX_FAMILIES)
        return replace(plan, backend=self.compile_backend)

    def vae(self, entry: ModelEntry, checkpoint: ModelEntry) -> Any:
        key = f"vae:{entry.path}:{entry.mtime_ns}:{checkpoint.path}"

        def load() -> Any:
            vae = load_vae(entry, checkpoint, self.placement, self.cache_dir)
            prepare_vae(vae, self.speed_plan(checkpoint))
            return vae

        return self.cache.get(key, load).value

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

    def warm_up(self) -> list[tuple[int, int]]:
        """Load the default checkpoint and run it once (2 steps) at each IMGOPEN_WARMUP_SIZES size, so
        that compilation (and the first load) happens now rather than in a user's request. The sizes
        warmed; none when no size is configured or no checkpoint is installed."""
        sizes = sizes_of(self.settings.warmup_sizes)
        if not sizes:
            return []
        try:
            resolved = self.check(Text2ImageParams(prompt="", batch_size=1, steps=2))
        except ImgOpenError as exc:
            log.warning("warm-up skipped: %s", exc.msg)
            return []
        warmed = []
        for asked_width, asked_height in sizes:
            started = time.monotonic()
            with self.checkpoint(resolved.checkpoint) as loaded:
                loaded.apply_loras([])
                pipe = loaded.pipe
                loaded.configure(pipe, None, None)
                width, height = generation_size(asked_width, asked_height, loaded.is_flux)
                if loaded.is_flux:
                    prompt: dict[str, Any] = {"prompt": "", "max_sequence_length": flux_max_sequence(pipe)}
                else:
                    prompt = dict(encode_prompts(pipe, "", "").as_kwargs())
                pipe(
                    **prompt,
                    width=width,
                    height=height,
                    num_inference_steps=2,
                    generator=torch.Generator("cpu").manual_seed(0),
                    output_type="pil",
                )
            log.info(
                "warmed up %s at %dx%d in %.1f s", resolved.checkpoint.name, width, height, time.monotonic() - started
            )
            warmed.append((width, height))
        return warmed

    def warm_up_in_background(self) -> threading.Thread | None:
        """warm_up() in a thread of its own (a worker takes tasks meanwhile; they wait for the model)."""
        if not self.settings.warmup_sizes:
            return None

        def run() -> None:
            try:
                self.warm_up()
            except Exception:
                log.exception("warm-up failed (requests compile on first use instead)")

        thread = threading.Thread(target=run, name="imgopen-warm-up", daemon=True)
        thread.start()
        return thread

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

    # --- coalesced generation (engine/coalesce.py) ---------------------------------------------------
    @property
    def coalesce_limit(self) -> int:
        """Most images in one coalesced batch: IMGOPEN_COALESCE_MAX, else 4 on a GPU and 1 (off) on a
        CPU, where a batch costs what its images cost one after another (measured: bench/coalescing.py)."""
        if self.settings.coalesce_max:
            return self.settings.coalesce_max
        return 4 if self.placement.is_cuda else 1

    def batch_key(self, mode: str, params: Text2ImageParams) -> str | None:
        """Requests with the same key run as one batch; None: this one runs alone."""
        try:
            resolved = self.check(params)
        except ImgOpenError:
            return None
        return batch_key(params, resolved, mode)

    def generate_batch(self, jobs: list[tuple[Text2ImageParams, TaskContext]], done: MemberDone) -> None:
        """Run compatible text2image requests as one denoising batch; each one's outcome goes to
        `done(index, result or exception)` as soon as it is known. A request that turns out not to
        fit (its files changed since it was queued), or a batch out of memory, runs alone."""
        members: list[Member] = []
        for index, (params, ctx) in enumerate(jobs):
            try:
                resolved = self.check(params)
                for warning in resolved.warnings:
                    ctx.warn(warning)
                ctx.progress(0.01, {"step": 0, "totalSteps": params.steps * params.n_iter}, force=True)
            except Exception as exc:
                done(index, exc)
                continue
            members.append(Member(index, params, ctx, resolved))
        if not members:
            return
        key = batch_key(members[0].params, members[0].resolved, "text2image")
        together = [m for m in members if key is not None and batch_key(m.params, m.resolved, "text2image") == key]
        alone = [m for m in members if m not in together]
        if len(together) > 1:
            try:
                with self.checkpoint(together[0].resolved.checkpoint) as loaded:
                    BatchRun(self, loaded, together, done).run()
            except Exception as exc:
                if not is_out_of_memory(exc):
                    for member in together:
                        if not member.ended:
                            member.ended = True
                            done(member.index, exc)
                else:
                    log.warning("a batch of %d requests ran out of memory; running them one by one", len(together))
                    self.cache.unload()
                    alone = [member for member in together if not member.ended] + alone
        else:
            alone = together + alone
        for member in alone:
            outcome: SdResult | BaseException
            try:

                def run(member: Member = member) -> SdResult:
                    with self.checkpoint(member.resolved.checkpoint) as loaded:
                        return self._generate(loaded, member.params, member.resolved, member.ctx)

                outcome = self.with_memory_retry(run, f"generation {member.params.width}x{member.params.height}")
            except Exception as exc:
                outcome = exc
            done(member.index, outcome)

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
        return self.result(
            loaded, params, resolved, ctx, images, generator.seeds, generator.size, generator.skipped, extra
        )

    def result(
        self,
        loaded: LoadedCheckpoint,
        params: Text2ImageParams,
        resolved: Resolved,
        ctx: TaskContext,
        images: list[Image.Image],
        seeds: list[int],
        size: tuple[int, int],
        skipped: list[int],
        extra: dict[str, Any] | None = None,
        batch_tasks: int = 1,
    ) -> SdResult:
        """A generation's images (faces restored when asked) saved with their parameters, and its result."""
        extra = dict(extra or {})
        if params.restore_faces:
            images = self._restore_faces(images, ctx)
        saved = []
        for index, (image, seed) in enumerate(zip(images, seeds, strict=True)):
            text = infotext(params, resolved, seed, extra, size)
            key = ctx.save_image(image, name=f"image-{index + 1}", fmt=params.fmt, parameters=text)
            saved.append(SdImage(image=key, seed=seed))
        info = {
            "checkpoint": resolved.checkpoint.name,
            "baseModel": resolved.checkpoint.base_model,
            "vae": resolved.vae.name if resolved.vae else None,
            "loras": [{"name": use.entry.stem, "weight": use.weight} for use in resolved.loras],
            "embeddings": [entry.stem for entry in resolved.embeddings],
            "sampler": "Euler" if resolved.is_flux else params.sampler_name,
            "seeds": seeds,
            "infotext": infotext(params, resolved, seeds[0], extra, size),
            "device": str(self.placement.device),
            "skipped": skipped,  # images a skip ended early (A1111's skip)
            "batch_tasks": batch_tasks,  # requests denoised together in one batch (coalesced generation)
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
