"""The LoRA training loop (SD 1.5, SD 2.x and SDXL), kohya sd-scripts style: a peft LoRA on the
UNet (and the text encoders when they get a learning rate), noise prediction loss, buckets,
gradient accumulation, warm-up schedules, and a checkpoint at the end of every epoch."""

from __future__ import annotations

import logging
import math
import random
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.nn import functional

from imgopen.engine.loader import load_pipeline
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import TaskContext
from imgopen.training.base_model import resolve_base
from imgopen.training.checkpoints import discard, load_checkpoint, save_checkpoint
from imgopen.training.dataset import Dataset, Example, augment, fit, load_dataset, to_tensor
from imgopen.training.lora_format import SAVE_DTYPES, kohya_state, metadata, write_lora
from imgopen.training.optimizers import make_optimizer
from imgopen.training.params import TrainingParams

log = logging.getLogger(__name__)
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


@dataclass
class TrainingOutcome:
    path: Path
    epochs: int
    steps: int
    epoch_losses: list[float]
    resumed_from_epoch: int
    images: int
    warnings: list[str] = field(default_factory=list)
    steps_per_second: float = 0.0
    optimizer_steps: int = 0  # updates of the weights: fewer than steps with gradient accumulation
    epoch_learning_rates: list[float] = field(default_factory=list)  # the UNet's, at each epoch's last update


class LoraTrainer:
    def __init__(self, engine: DiffusionEngine, params: TrainingParams, ctx: TaskContext, work_dir: Path) -> None:
        self.engine = engine
        self.params = params
        self.ctx = ctx
        self.work_dir = work_dir
        self.placement = engine.placement
        self.base = resolve_base(engine.catalog, params, engine.settings.default_checkpoint)
        self.is_xl = self.base.base_model == "SDXL 1.0"
        self.warnings: list[str] = []

    # --- set-up ---------------------------------------------------------------------------------
    def _load(self) -> None:
        # A private copy of the base: the cached pipelines serve generation meanwhile.
        pipe = load_pipeline(self.base, self.placement, self.engine.cache_dir, None)
        self.pipe = pipe
        self.unet, self.vae = pipe.unet, pipe.vae
        self.text_encoders = [pipe.text_encoder] + ([pipe.text_encoder_2] if self.is_xl else [])
        self.tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if self.is_xl else [])
        for module in (self.unet, self.vae, *self.text_encoders):
            module.requires_grad_(False)
        from diffusers import DDPMScheduler

        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.scaling = float(self.vae.config.scaling_factor)
        self.shift = float(getattr(self.vae.config, "shift_factor", None) or 0.0)

    def _add_lora(self) -> list[dict[str, Any]]:
        from peft import LoraConfig, inject_adapter_in_model

        params = self.params
        config = {
            "r": params.networkDim,
            "lora_alpha": params.networkAlpha,
            "lora_dropout": params.networkDropout,
            "init_lora_weights": "gaussian",
        }
        self.unet.add_adapter(LoraConfig(**config, target_modules=UNET_TARGETS))
        groups = [{"params": self._lora_parameters(self.unet), "lr": params.unet_lr}]
        self.train_text = params.text_encoder_lr > 0
        if self.train_text:
            for encoder in self.text_encoders:
                # peft itself, not transformers' add_adapter: that one refuses the pinned peft release.
                inject_adapter_in_model(LoraConfig(**config, target_modules=TEXT_TARGETS), encoder)
                groups.append({"params": self._lora_parameters(encoder), "lr": params.text_encoder_lr})
        return groups

    @staticmethod
    def _lora_parameters(module: torch.nn.Module) -> list[torch.nn.Parameter]:
        found = []
        for name, parameter in module.named_parameters():
            if "lora_" in name:
                parameter.data = parameter.data.float()  # LoRA weights train in fp32 whatever the base
                parameter.requires_grad_(True)
                found.append(parameter)
        return found

    # --- text -----------------------------------------------------------------------------------
    def _encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-token embeddings (and SDXL's pooled), long captions in 75-token chunks."""
        chunks = self.params.maxTokenLength // 75
        outputs, pooled = [], None
        for index, (tokenizer, encoder) in enumerate(zip(self.tokenizers, self.text_encoders, strict=True)):
            ids = tokenizer(
                captions, padding="max_length", truncation=True, max_length=chunks * 75 + 2, return_tensors="pt"
            ).input_ids.to(self.placement.device)
            parts = []
            for chunk in range(chunks):
                body = ids[:, 1 + chunk * 75 : 1 + (chunk + 1) * 75]
                bos = ids[:, :1]
                eos = torch.full_like(bos, tokenizer.eos_token_id)
                piece = torch.cat([bos, body, eos], dim=1)
                output = encoder(piece, output_hidden_states=True)
                if self.is_xl:
                    hidden = output.hidden_states[-(self.params.clipSkip + 1)]
                    if index == 1 and chunk == 0:
                        pooled = output[0]
                elif self.params.clipSkip == 1:
                    hidden = output[0]  # the last layer through the final layer norm
                else:
                    # transformers 5 flattened CLIPTextModel (no .text_model); older releases nest it.
                    norm = getattr(encoder, "text_model", encoder).final_layer_norm
                    hidden = norm(output.hidden_states[-self.params.clipSkip])
                parts.append(hidden)
            outputs.append(torch.cat(parts, dim=1))
        return torch.cat(outputs, dim=-1), pooled

    # --- latents --------------------------------------------------------------------------------
    def _latents(self, images: list[Image.Image], generator: torch.Generator) -> torch.Tensor:
        pixels = torch.stack([to_tensor(image) for image in images]).to(self.placement.device, self.vae.dtype)
        with torch.no_grad():
            distribution = self.vae.encode(pixels).latent_dist
            latents = distribution.sample(generator=generator)
        scaled: torch.Tensor = ((latents - self.shift) * self.scaling).float()
        return scaled

    # --- the loop -------------------------------------------------------------------------------
    def batches(self, dataset: Dataset, rng: random.Random) -> list[list[int]]:
        """One epoch: every example `repeats` times, shuffled, grouped by bucket."""
        order = [index for index in range(len(dataset.examples)) for _ in range(self.params.repeats)]
        rng.shuffle(order)
        by_bucket: dict[tuple[int, int], list[int]] = {}
        for index in order:
            by_bucket.setdefault(dataset.examples[index].bucket, []).append(index)
        batches = [
            items[start : start + self.params.batchSize]
            for items in by_bucket.values()
            for start in range(0, len(items), self.params.batchSize)
        ]
        rng.shuffle(batches)
        return batches

    def run(self) -> TrainingOutcome:
        params, ctx = self.params, self.ctx
        seed = params.seed if params.seed >= 0 else secrets.randbelow(2**31)
        state = load_checkpoint(self.work_dir)
        if state is not None:
            seed = int(state["seed"])
        torch.manual_seed(seed)
        rng = random.Random(seed)
        dataset = load_dataset(params, ctx)
        self.warnings.extend(dataset.warnings)
        self._load()
        groups = self._add_lora()
        on_cuda = self.placement.is_cuda
        optimizer = make_optimizer(params.optimizerType, groups, on_cuda)
        batches_per_epoch = len(self.batches(dataset, random.Random(seed)))
        updates_per_epoch = math.ceil(batches_per_epoch / params.gradientAccumulationSteps)
        total_updates = updates_per_epoch * params.maxEpochs
        from diffusers.optimization import get_scheduler

        schedule = get_scheduler(
            params.lrScheduler, optimizer, num_warmup_steps=params.lrWarmupSteps, num_training_steps=total_updates
        )
        autocast_dtype = self._autocast_dtype()
        scaler = torch.amp.GradScaler("cuda") if autocast_dtype == torch.float16 else None
        start_epoch, step, losses, rates = 0, 0, [], []
        if state is not None:
            self._restore(state, optimizer, schedule)
            start_epoch, step, losses = int(state["epoch"]), int(state["step"]), list(state["losses"])
            rates = list(state.get("rates", []))  # absent from checkpoints of older releases
            rng.setstate((3, tuple(state["rng"]), None))
            torch.set_rng_state(state["torch_rng"])
            log.info("training %s: resuming after epoch %d", ctx.task_id, start_epoch)
        generator = torch.Generator().manual_seed(seed)
        cached = self._cache_latents(dataset, generator) if params.cacheLatents else None
        text_cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        total_steps = batches_per_epoch * params.maxEpochs
        started, steps_run = time.monotonic(), 0
        rate = float(optimizer.param_groups[0]["lr"])
        for epoch in range(start_epoch, params.maxEpochs):
            epoch_loss, count = 0.0, 0
            for position, batch in enumerate(self.batches(dataset, rng)):
                loss = self._step(dataset, batch, cached, text_cache, rng, generator, autocast_dtype, scaler)
                epoch_loss, count = epoch_loss + loss, count + 1
                if (position + 1) % params.gradientAccumulationSteps == 0 or position + 1 == batches_per_epoch:
                    rate = self._update(optimizer, schedule, scaler)
                step += 1
                steps_run += 1
                info = {"epoch": epoch + 1, "step": step, "totalSteps": total_steps, "loss": round(loss, 6)}
                ctx.progress(0.05 + 0.9 * step / total_steps, info)
            losses.append(epoch_loss / max(1, count))
            rates.append(rate)
            snapshot = self._snapshot(seed, epoch + 1, step, losses, rates, optimizer, schedule, rng)
            save_checkpoint(self.work_dir, snapshot)
            ctx.progress(0.05 + 0.9 * step / total_steps, {**info, "epochLoss": round(losses[-1], 6)}, force=True)
        elapsed = time.monotonic() - started
        path = self._export(dataset, seed, step)
        discard(self.work_dir)
        return TrainingOutcome(
            path=path,
            epochs=params.maxEpochs,
            steps=step,
            epoch_losses=losses,
            resumed_from_epoch=start_epoch,
            images=len(dataset.examples),
            warnings=self.warnings,
            steps_per_second=steps_run / elapsed if elapsed > 0 else 0.0,
            optimizer_steps=int(schedule.last_epoch),  # the schedule steps once per update (restored too)
            epoch_learning_rates=rates,
        )

    def _autocast_dtype(self) -> torch.dtype | None:
        precision = self.params.mixedPrecision
        if precision == "no":
            return None
        if not self.placement.is_cuda:
            if precision == "fp16":
                self.warnings.append("mixedPrecision fp16 needs a GPU: trained in fp32 on the CPU")
            return None
        return torch.float16 if precision == "fp16" else torch.bfloat16

    def _cache_latents(self, dataset: Dataset, generator: torch.Generator) -> list[torch.Tensor]:
        """Each image encoded once (kohya's cache_latents: crops fixed, flips on the fly)."""
        out = []
        for example in dataset.examples:
            image = fit(example.image, example.bucket, random.Random(0), random_crop=False)
            out.append(self._latents([image], generator)[0])
        return out

    def _step(
        self,
        dataset: Dataset,
        batch: list[int],
        cached: list[torch.Tensor] | None,
        text_cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]],
        rng: random.Random,
        generator: torch.Generator,
        autocast_dtype: torch.dtype | None,
        scaler: Any,
    ) -> float:
        params = self.params
        examples: list[Example] = [dataset.examples[index] for index in batch]
        if cached is not None:
            latents = torch.stack([cached[index] for index in batch])
            if params.flipAug:
                flips = [rng.random() < 0.5 for _ in batch]
                latents = torch.stack([lat.flip(-1) if flip else lat for lat, flip in zip(latents, flips, strict=True)])
        else:
            images = [augment(fit(e.image, e.bucket, rng, params.randomCrop), params, rng) for e in examples]
            latents = self._latents(images, generator)
        latents = latents.to(self.placement.device)
        noise = torch.randn_like(latents)
        if params.noiseOffset:
            noise = noise + params.noiseOffset * torch.randn(
                latents.shape[0], latents.shape[1], 1, 1, device=latents.device
            )
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (latents.shape[0],), device=latents.device
        )
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        captions = [e.caption for e in examples]
        device_type = self.placement.device.type
        with torch.autocast(device_type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            encoded, pooled = self._captions(captions, text_cache)
            extra = self._xl_conditions(examples, pooled) if self.is_xl else {}
            prediction = self.unet(noisy.to(self.unet.dtype), timesteps, encoded.to(self.unet.dtype), **extra).sample
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        loss = functional.mse_loss(prediction.float(), target.float())
        scaled = loss / params.gradientAccumulationSteps
        (scaler.scale(scaled) if scaler is not None else scaled).backward()
        return float(loss.detach())

    def _captions(
        self, captions: list[str], cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.train_text:
            return self._encode(captions)
        parts = []
        for caption in captions:
            if caption not in cache:
                with torch.no_grad():
                    cache[caption] = self._encode([caption])
            parts.append(cache[caption])
        pooled = [p for _e, p in parts]
        stacked_pooled = torch.cat([p for p in pooled if p is not None]) if pooled and pooled[0] is not None else None
        return torch.cat([e for e, _p in parts]), stacked_pooled

    def _xl_conditions(self, examples: list[Example], pooled: torch.Tensor | None) -> dict[str, Any]:
        """SDXL's extra conditioning: pooled text and (original size, crop, target size)."""
        ids = [[e.bucket[1], e.bucket[0], 0, 0, e.bucket[1], e.bucket[0]] for e in examples]
        time_ids = torch.tensor(ids, dtype=torch.float32, device=self.placement.device)
        assert pooled is not None
        return {
            "added_cond_kwargs": {"text_embeds": pooled.to(self.unet.dtype), "time_ids": time_ids.to(self.unet.dtype)}
        }

    def _update(self, optimizer: torch.optim.Optimizer, schedule: Any, scaler: Any) -> float:
        """One update of the weights; the (UNet's) learning rate it used."""
        rate = float(optimizer.param_groups[0]["lr"])
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        return rate

    # --- checkpoints and export -----------------------------------------------------------------
    def _lora_states(self) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
        from peft import get_peft_model_state_dict

        unet = {k: v.detach().cpu() for k, v in get_peft_model_state_dict(self.unet).items()}
        texts: dict[str, dict[str, torch.Tensor]] = {}
        if self.train_text:
            for name, encoder in zip(("text_encoder", "text_encoder_2"), self.text_encoders, strict=False):
                texts[name] = {k: v.detach().cpu() for k, v in get_peft_model_state_dict(encoder).items()}
        return unet, texts

    def _snapshot(
        self,
        seed: int,
        epoch: int,
        step: int,
        losses: list[float],
        rates: list[float],
        optimizer: Any,
        schedule: Any,
        rng: random.Random,
    ) -> dict[str, Any]:
        unet, texts = self._lora_states()
        return {
            "seed": seed,
            "epoch": epoch,
            "step": step,
            "losses": losses,
            "rates": rates,
            "unet": unet,
            "texts": texts,
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "rng": list(rng.getstate()[1]),
            "torch_rng": torch.get_rng_state(),
        }

    def _restore(self, state: dict[str, Any], optimizer: Any, schedule: Any) -> None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(self.unet, state["unet"])
        for name, encoder in zip(("text_encoder", "text_encoder_2"), self.text_encoders, strict=False):
            if name in state["texts"]:
                set_peft_model_state_dict(encoder, state["texts"][name])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])

    def _export(self, dataset: Dataset, seed: int, steps: int) -> Path:
        params = self.params
        unet, texts = self._lora_states()
        tensors = kohya_state(unet, texts, params.networkAlpha, SAVE_DTYPES[params.savePrecision])
        settings = {
            "network_dim": params.networkDim,
            "network_alpha": params.networkAlpha,
            "network_dropout": params.networkDropout,
            "learning_rate": params.learningRate,
            "unet_lr": params.unet_lr,
            "text_encoder_lr": params.text_encoder_lr,
            "num_train_images": len(dataset.examples),
            "num_epochs": params.maxEpochs,
            "max_train_steps": steps,
            "batch_size_per_device": params.batchSize,
            "gradient_accumulation_steps": params.gradientAccumulationSteps,
            "lr_scheduler": params.lrScheduler,
            "lr_warmup_steps": params.lrWarmupSteps,
            "optimizer": params.optimizerType,
            "mixed_precision": params.mixedPrecision,
            "save_precision": params.savePrecision,
            "seed": seed,
            "resolution": f"({params.resolution}, {params.resolution})",
            "enable_bucket": params.enableBucket,
            "min_bucket_reso": params.minBucketReso,
            "max_bucket_reso": params.maxBucketReso,
            "clip_skip": params.clipSkip,
            "max_token_length": params.maxTokenLength,
            "noise_offset": params.noiseOffset,
            "cache_latents": params.cacheLatents,
            "flip_aug": params.flipAug,
            "color_aug": params.colorAug,
            "random_crop": params.randomCrop,
            "sd_model_name": self.base.name,
            "new_sd_model_hash": self.base.sha256 or "",
        }
        info = metadata(settings, dataset.tag_frequency(), self.base.base_model, params.lora_name, params.triggerWord)
        folder = self.engine.catalog.models_dir / "loras"
        return write_lora(folder / f"{params.lora_name}.safetensors", tensors, info)
