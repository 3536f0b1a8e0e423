"""What a training task stores as its result."""

from __future__ import annotations

from pydantic import BaseModel, Field

from imgopen.schemas.types import FileKey


class TrainingResult(BaseModel):
    method: str = Field(description="What trained the LoRA.")
    loraFileName: str = Field(description="The LoRA's file in the LoRA folder.")
    sdLoraFileSimplifyName: str = Field(description="NAME for <lora:NAME:W>.")
    loraUrl: FileKey = Field(description="Download URL of the LoRA file.")
    triggerWords: list[str] = Field(description="Words that call the LoRA.")
    baseModel: str = Field(description="Base model family it was trained on.")
    epochs: int = Field(description="Epochs trained.")
    steps: int = Field(description="Steps trained.")
    epochLosses: list[float] = Field(description="Mean training loss of each epoch.")
    resumedFromEpoch: int = Field(description="Epochs done before a restart (0: trained in one go).")
    images: int = Field(description="Images trained on.")
    stepsPerSecond: float = Field(description="Training speed of the last run.")
    # Defaults: results stored by older releases have neither.
    optimizerSteps: int | None = Field(
        None, description="Updates of the weights: steps / gradientAccumulationSteps, rounded up per epoch."
    )
    epochLearningRates: list[float] | None = Field(
        None, description="The UNet learning rate of each epoch's last update (shows warm-up and schedule)."
    )
