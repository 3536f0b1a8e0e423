"""Runs tasks of kind "training": one training at a time per device; the LoRA lands in the
catalog's LoRA folder (usable at once) and a copy in storage for download."""

from __future__ import annotations

import threading
from typing import Any

from imgopen.db.tables import Task
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import StopReason, TaskCancelled, TaskContext
from imgopen.training.checkpoints import discard
from imgopen.training.params import TrainingParams
from imgopen.training.results import TrainingResult
from imgopen.training.trainer import LoraTrainer


class TrainingHandler:
    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine
        self._device_lock = threading.Lock()

    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        params = TrainingParams.model_validate(task.params)
        work_dir = ctx.settings.data_dir / "training" / task.id
        with self._device_lock:
            trainer = LoraTrainer(self._engine, params, ctx, work_dir)
            try:
                outcome = trainer.run()
            except TaskCancelled:
                if ctx.stop.reason == StopReason.CANCEL:  # a shutdown's requeued run resumes from them
                    discard(work_dir)
                raise
            except Exception:
                discard(work_dir)  # the task ends failed: nothing will resume from its checkpoints
                raise
        for warning in outcome.warnings:
            ctx.warn(warning)
        self._engine.catalog.refresh()
        key = ctx.save_bytes(outcome.path.read_bytes(), outcome.path.name)
        result = TrainingResult(
            method="peft-lora",
            loraFileName=outcome.path.name,
            sdLoraFileSimplifyName=outcome.path.stem,
            loraUrl=key,
            triggerWords=[params.triggerWord] if params.triggerWord else [],
            baseModel=trainer.base.base_model,
            epochs=outcome.epochs,
            steps=outcome.steps,
            epochLosses=[round(loss, 6) for loss in outcome.epoch_losses],
            resumedFromEpoch=outcome.resumed_from_epoch,
            images=outcome.images,
            stepsPerSecond=round(outcome.steps_per_second, 3),
            optimizerSteps=outcome.optimizer_steps,
            epochLearningRates=[float(f"{rate:.6g}") for rate in outcome.epoch_learning_rates],
        )
        dumped: dict[str, Any] = result.model_dump(mode="json")
        return dumped
