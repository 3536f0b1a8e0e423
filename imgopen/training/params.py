"""The training body of API.md 5: camelCase names, snake_case aliases (the hosted docs' own example
uses them), ranges checked so that a bad value answers "400" naming the field."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_snake

from imgopen.training.optimizer_choices import OPTIMIZERS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")


def _both(name: str) -> AliasChoices:
    """Accept the camelCase name and its snake_case twin."""
    return AliasChoices(name, to_snake(name))


class TrainingParams(BaseModel):
    """POST modelTraining/submitTraining/Job."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    taskId: str = Field(
        validation_alias=_both("taskId"), min_length=1, max_length=128, description="Your id, unique per key."
    )
    fileUrlList: list[str] = Field(
        validation_alias=_both("fileUrlList"),
        min_length=1,
        max_length=500,
        description="Training images: http(s) URLs, data URIs or base64 (1 to 500).",
    )
    pretrainedModel: str | None = Field(
        None,
        validation_alias=_both("pretrainedModel"),
        max_length=400,
        description="Base checkpoint (queryModelList name; SD 1.5 or SDXL); default: the default checkpoint.",
    )
    maxEpochs: int = Field(20, validation_alias=_both("maxEpochs"), ge=1, le=1000, description="Epochs.")
    batchSize: int = Field(1, validation_alias=_both("batchSize"), ge=1, le=64, description="Images per step.")
    learningRate: float = Field(
        1e-4, validation_alias=_both("learningRate"), gt=0, le=1, description='Learning rate, e.g. "1e-4".'
    )
    unetLr: float | None = Field(
        None, validation_alias=_both("unetLr"), gt=0, le=1, description="UNet learning rate; default learningRate."
    )
    textEncoderLr: float | None = Field(
        None,
        validation_alias=_both("textEncoderLr"),
        ge=0,
        le=1,
        description="Text encoder learning rate; 0 or absent: the text encoder is not trained.",
    )
    resolution: int = Field(512, validation_alias=_both("resolution"), ge=64, le=2048, description="Training size.")
    repeats: int = Field(
        10, validation_alias=_both("repeats"), ge=1, le=1000, description="Repeats of each image per epoch."
    )
    networkDim: int = Field(32, validation_alias=_both("networkDim"), ge=1, le=256, description="LoRA rank.")
    networkAlpha: float = Field(
        16, validation_alias=_both("networkAlpha"), gt=0, le=256, description="LoRA alpha (scale = alpha / rank)."
    )
    networkDropout: float = Field(0.0, validation_alias=_both("networkDropout"), ge=0, le=0.9, description="Dropout.")
    lrScheduler: Literal[
        "constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"
    ] = Field("cosine_with_restarts", validation_alias=_both("lrScheduler"), description="Learning rate schedule.")
    lrWarmupSteps: int = Field(
        0, validation_alias=_both("lrWarmupSteps"), ge=0, le=100000, description="Warm-up steps."
    )
    optimizerType: str = Field(
        "AdamW", validation_alias=_both("optimizerType"), max_length=32, description="Optimizer."
    )
    mixedPrecision: Literal["no", "fp16", "bf16"] = Field(
        "fp16", validation_alias=_both("mixedPrecision"), description="Training precision (on a GPU)."
    )
    savePrecision: Literal["float", "fp16", "bf16"] = Field(
        "fp16", validation_alias=_both("savePrecision"), description="Precision of the saved LoRA."
    )
    seed: int = Field(-1, validation_alias=_both("seed"), ge=-1, le=2**32 - 1, description="Seed; -1 random.")
    clipSkip: int = Field(1, validation_alias=_both("clipSkip"), ge=1, le=12, description="CLIP layers to skip.")
    maxTokenLength: Literal[75, 150, 225] = Field(
        75, validation_alias=_both("maxTokenLength"), description="Caption tokens."
    )
    randomCrop: bool = Field(False, validation_alias=_both("randomCrop"), description="Random instead of centre crops.")
    flipAug: bool = Field(False, validation_alias=_both("flipAug"), description="Random horizontal flips.")
    colorAug: bool = Field(False, validation_alias=_both("colorAug"), description="Random hue shifts.")
    enableBucket: bool = Field(True, validation_alias=_both("enableBucket"), description="Aspect-ratio buckets.")
    minBucketReso: int = Field(256, validation_alias=_both("minBucketReso"), ge=64, le=4096, description="Bucket min.")
    maxBucketReso: int = Field(1024, validation_alias=_both("maxBucketReso"), ge=64, le=4096, description="Bucket max.")
    noiseOffset: float = Field(0.0, validation_alias=_both("noiseOffset"), ge=0, le=1, description="Noise offset.")
    gradientAccumulationSteps: int = Field(
        1, validation_alias=_both("gradientAccumulationSteps"), ge=1, le=256, description="Steps per optimizer step."
    )
    cacheLatents: bool = Field(
        True,
        validation_alias=_both("cacheLatents"),
        description="Encode images once (faster); randomCrop and colorAug need it false.",
    )
    captionList: list[str] | None = Field(
        None, validation_alias=_both("captionList"), description="One caption per image; default: the trigger word."
    )
    triggerWord: str | None = Field(
        None, validation_alias=_both("triggerWord"), max_length=100, description="Word that calls the LoRA."
    )
    outputName: str | None = Field(
        None,
        validation_alias=_both("outputName"),
        max_length=100,
        description="LoRA file name (without .safetensors); default: the taskId.",
    )
    callbackUrl: str | None = Field(
        None,
        validation_alias=_both("callbackUrl"),
        max_length=2048,
        description="Receives the query answer at the end.",
    )

    @field_validator(
        "learningRate", "unetLr", "textEncoderLr", "noiseOffset", "networkAlpha", "networkDropout", mode="before"
    )
    @classmethod
    def _number_text(cls, value: Any) -> Any:
        """The hosted API sends learning rates as strings ("1e-4")."""
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a number") from exc
        return value

    @field_validator("fileUrlList")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        for index, item in enumerate(value):
            text = item.strip()
            if not text.startswith(("http://", "https://", "data:")) and (len(text) < 64 or " " in text):
                raise ValueError(f"fileUrlList[{index}]: not an http(s) URL, a data URI or base64 image data")
        return value

    @field_validator("optimizerType")
    @classmethod
    def _optimizer(cls, value: str) -> str:
        match = next((name for name in OPTIMIZERS if name.lower() == value.strip().lower()), None)
        if match is None:
            raise ValueError(f"unknown optimizer {value!r}; valid: {', '.join(OPTIMIZERS)}")
        return match

    @model_validator(mode="after")
    def _check(self) -> TrainingParams:
        if self.lrWarmupSteps and self.lrScheduler == "constant":
            # The constant schedule has no warm-up: the steps would be silently ignored.
            raise ValueError("lrWarmupSteps: the constant schedule has no warm-up; use constant_with_warmup")
        if self.captionList is not None and len(self.captionList) != len(self.fileUrlList):
            raise ValueError(f"captionList: {len(self.captionList)} captions for {len(self.fileUrlList)} images")
        per_step = [name for name in ("randomCrop", "colorAug") if getattr(self, name)]
        if per_step and self.cacheLatents:
            names = " and ".join(per_step)
            raise ValueError(
                f"{names} with cacheLatents true: cached latents are encoded once, so {names} would have no "
                f"effect; set cacheLatents to false to use {names} (each image is then encoded at every step)"
            )
        if self.minBucketReso > self.maxBucketReso:
            raise ValueError("minBucketReso: larger than maxBucketReso")
        name = self.outputName or self.taskId
        if not _NAME.match(name):
            raise ValueError(f"outputName: {name!r} is not a usable file name (letters, digits, _ . - and spaces)")
        return self

    @property
    def lora_name(self) -> str:
        return (self.outputName or self.taskId).strip()

    @property
    def unet_lr(self) -> float:
        return self.unetLr or self.learningRate

    @property
    def text_encoder_lr(self) -> float:
        return self.textEncoderLr or 0.0
