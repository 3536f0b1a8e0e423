"""The training options over HTTP, each shown by its effect on a tiny training (3 images of 64 px,
2 epochs of 3 steps): what the LoRA file holds, what its metadata records, and what the result
reports. Every training has the same seed: the baseline trained twice gives the same tensors, so a
difference from it is the option's doing."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from imgopen.testing.images import data_uri, encode
from tests.conftest import Served
from tests.training.test_training_api import pattern, read_lora, training_body, wait_training

LEARNING_RATE = 1e-2


@dataclass
class Trained:
    view: dict[str, Any]  # the queryTraining answer
    tensors: dict[str, torch.Tensor]
    info: dict[str, str]  # the file's ss_* metadata

    @property
    def text_encoder_keys(self) -> list[str]:
        return [key for key in self.tensors if key.startswith("lora_te")]

    @property
    def unet_keys(self) -> set[str]:
        return {key for key in self.tensors if key.startswith("lora_unet_")}

    def tags(self) -> dict[str, int]:
        frequency: dict[str, int] = json.loads(self.info["ss_tag_frequency"])["1_dataset"]
        return frequency


def train(served: Served, **options: Any) -> Trained:
    task = f"opt-{uuid.uuid4().hex[:10]}"
    body = training_body(
        task,
        fileUrlList=[data_uri(encode(pattern(i))) for i in range(3)],
        maxEpochs=2,
        batchSize=1,
        repeats=1,
        networkDim=4,
        networkAlpha=4,
        learningRate=str(LEARNING_RATE),
        lrScheduler="constant_with_warmup",  # constant without lrWarmupSteps
        savePrecision="float",
    )
    body.update(options)
    served.client.call("/modelTraining/submitTraining/Job", body)
    view = wait_training(served.client, task)
    assert view["state"] == "success", view
    path = served.services.catalog.models_dir / "loras" / f"{task}.safetensors"
    tensors, info = read_lora(path.read_bytes())
    return Trained(view, tensors, info)


def same_weights(a: Trained, b: Trained) -> bool:
    return a.tensors.keys() == b.tensors.keys() and all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)


@pytest.fixture(scope="module")
def baseline(trainer: Served) -> Trained:
    return train(trainer)


def test_the_baseline_is_reproducible_and_records_its_settings(trainer: Served, baseline: Trained) -> None:
    assert same_weights(train(trainer), baseline)  # so that any difference below is the option's
    view, info = baseline.view, baseline.info
    assert (view["steps"], view["optimizerSteps"]) == (6, 6)
    assert view["epochLearningRates"] == [LEARNING_RATE, LEARNING_RATE]
    assert all(tensor.dtype == torch.float32 for tensor in baseline.tensors.values())  # savePrecision "float"
    assert baseline.text_encoder_keys == []  # no textEncoderLr: the text encoder is not trained
    assert baseline.tags() == {"zxq": 3}  # no captionList: the trigger word
    expected = {
        "ss_noise_offset": "0.0",
        "ss_clip_skip": "1",
        "ss_gradient_accumulation_steps": "1",
        "ss_lr_warmup_steps": "0",
        "ss_save_precision": "float",
        "ss_cache_latents": "true",
        "ss_flip_aug": "false",
        "ss_text_encoder_lr": "0.0",
    }
    assert {key: info[key] for key in expected} == expected


def test_save_precision_text_encoder_lr_and_captions(trainer: Served, baseline: Trained) -> None:
    captions = ["red, stripes", "green, stripes", "stripes"]
    trained = train(trainer, savePrecision="bf16", textEncoderLr="1e-3", captionList=captions)
    assert all(tensor.dtype == torch.bfloat16 for tensor in trained.tensors.values())
    assert trained.info["ss_save_precision"] == "bf16"
    # textEncoderLr > 0: text-encoder LoRA tensors, in kohya's names (what A1111 and ComfyUI match),
    # trained away from their zero initialisation; the UNet's are the same set as without.
    te_keys = trained.text_encoder_keys
    assert te_keys and all(key.startswith("lora_te1_text_model_encoder_layers_") for key in te_keys), te_keys[:3]
    ups = [trained.tensors[key] for key in te_keys if key.endswith(".lora_up.weight")]
    assert ups and all(up.abs().max() > 0 for up in ups)
    assert trained.unet_keys == baseline.unet_keys
    assert trained.info["ss_text_encoder_lr"] == "0.001"
    # captionList: each image's caption (trigger word first), counted tag by tag.
    assert trained.tags() == {"zxq": 3, "stripes": 3, "red": 1, "green": 1}


def test_gradient_accumulation_updates_the_weights_less_often(trainer: Served, baseline: Trained) -> None:
    trained = train(trainer, gradientAccumulationSteps=2, textEncoderLr="0")
    # 3 steps an epoch in groups of 2: 2 updates an epoch (the last group is a single step).
    assert (trained.view["steps"], trained.view["optimizerSteps"]) == (6, 4)
    assert baseline.view["optimizerSteps"] == 6
    assert trained.info["ss_gradient_accumulation_steps"] == "2"
    assert not same_weights(trained, baseline)
    assert trained.text_encoder_keys == []  # textEncoderLr 0: not trained


def test_lr_warmup_steps_ramp_the_learning_rate_up(trainer: Served, baseline: Trained) -> None:
    trained = train(trainer, lrWarmupSteps=4)
    # Update i (from 0) uses i / 4 of the rate until the 4th: epoch 1 ends with update 2 (half the
    # rate), epoch 2 with update 5 (the full rate). Without warm-up: the full rate throughout.
    assert trained.view["epochLearningRates"] == [LEARNING_RATE / 2, LEARNING_RATE]
    assert baseline.view["epochLearningRates"] == [LEARNING_RATE, LEARNING_RATE]
    assert trained.info["ss_lr_warmup_steps"] == "4"
    assert not same_weights(trained, baseline)


def test_noise_offset_changes_the_trained_weights(trainer: Served, baseline: Trained) -> None:
    small, large = train(trainer, noiseOffset="0.3"), train(trainer, noiseOffset=0.6)
    assert (small.info["ss_noise_offset"], large.info["ss_noise_offset"]) == ("0.3", "0.6")
    assert not same_weights(small, baseline)
    # Both draw the same offset noise; only its size differs, so this difference is the offset's.
    assert not same_weights(small, large)


def test_clip_skip_changes_the_trained_weights(trainer: Served, baseline: Trained) -> None:
    skipped = train(trainer, clipSkip=2)
    assert skipped.info["ss_clip_skip"] == "2"
    assert not same_weights(skipped, baseline)  # no random draw differs: the captions' encoding does


def test_augmentations_train_without_cached_latents(trainer: Served) -> None:
    """flipAug, colorAug and randomCrop on images encoded at every step (their effect on the images
    themselves: test_dataset.py). Wider images than the bucket, so that crops have room to move."""
    trained = train(
        trainer,
        cacheLatents=False,
        flipAug=True,
        colorAug=True,
        randomCrop=True,
        enableBucket=False,
        fileUrlList=[data_uri(encode(pattern(i).resize((96, 64)))) for i in range(3)],
    )
    recorded = {key: trained.info[key] for key in ("ss_cache_latents", "ss_flip_aug", "ss_color_aug", "ss_random_crop")}
    assert recorded == {
        "ss_cache_latents": "false",
        "ss_flip_aug": "true",
        "ss_color_aug": "true",
        "ss_random_crop": "true",
    }
    assert trained.view["steps"] == 6 and len(trained.view["epochLosses"]) == 2
