"""The checkpoint a training starts from, found in the catalog's metadata (no model is loaded): run
at submit by the API and again by the worker that trains."""

from __future__ import annotations

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.engine.resolve import GENERATION_FAMILIES, default_checkpoint
from imgopen.errors import ImgOpenError
from imgopen.training.params import TrainingParams


def resolve_base(catalog: ModelCatalog, params: TrainingParams, preferred_default: str | None) -> ModelEntry:
    if params.pretrainedModel:
        entry = catalog.require("checkpoint", params.pretrainedModel, "pretrainedModel")
    else:
        entry = default_checkpoint(catalog, preferred_default)
    if entry.base_model not in GENERATION_FAMILIES or entry.variant == "inpainting":
        raise ImgOpenError(
            "400",
            f"pretrainedModel: {entry.name} is {entry.base_model} {entry.variant or ''}; LoRAs train on "
            "SD 1.5, SD 2.x and SDXL base checkpoints",
        )
    return entry
