"""The training set's augmentations on their own: flips, hue shifts and random crops change the
examples (and only when asked), and the options that need uncached latents say so."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from imgopen.testing.images import astronaut
from imgopen.training.dataset import augment, caption_for, fit
from imgopen.training.params import TrainingParams


def params(**options: Any) -> TrainingParams:
    return TrainingParams(**{"taskId": "t", "fileUrlList": ["data:image/png;base64,x"], **options})


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.int16)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return astronaut().resize((64, 64))


def test_flip_aug_mirrors_about_half_the_examples(photo: Image.Image) -> None:
    mirrored = pixels(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    outcomes = [pixels(augment(photo, params(flipAug=True), random.Random(seed))) for seed in range(40)]
    flipped = [np.array_equal(out, mirrored) for out in outcomes]
    assert all(flip or np.array_equal(out, pixels(photo)) for flip, out in zip(flipped, outcomes, strict=True))
    assert 8 <= sum(flipped) <= 32  # about half, whichever way the draws fall
    plain = [pixels(augment(photo, params(), random.Random(seed))) for seed in range(10)]
    assert all(np.array_equal(out, pixels(photo)) for out in plain)


def test_color_aug_shifts_the_hue_by_a_random_amount(photo: Image.Image) -> None:
    options = params(colorAug=True, cacheLatents=False)
    hue = np.asarray(photo.convert("HSV"))[..., 0].astype(np.int16)
    saturated = np.asarray(photo.convert("HSV"))[..., 1] > 100  # where the hue is well defined
    shifts = set()
    for seed in range(6):
        out = augment(photo, options, random.Random(seed))
        assert out.size == photo.size and out.mode == "RGB"
        assert np.abs(pixels(out) - pixels(photo)).mean() > 1
        moved = (np.asarray(out.convert("HSV"))[..., 0].astype(np.int16) - hue) % 256
        values, counts = np.unique(moved[saturated], return_counts=True)
        shift = int(values[np.argmax(counts)])
        assert shift != 0 and (shift <= 13 or shift >= 243), shift  # within +-0.05 of the hue circle
        shifts.add(shift)
    assert len(shifts) >= 3  # a new shift for each draw
    assert np.array_equal(pixels(augment(photo, params(cacheLatents=False), random.Random(0))), pixels(photo))


def test_random_crop_moves_the_crop_and_centre_crop_does_not() -> None:
    wide = astronaut().resize((96, 64))
    centre = pixels(fit(wide, (64, 64), random.Random(0), random_crop=False))
    assert np.array_equal(centre, pixels(wide)[:, 16:80])
    assert all(
        np.array_equal(pixels(fit(wide, (64, 64), random.Random(seed), random_crop=False)), centre) for seed in range(5)
    )
    lefts = set()
    for seed in range(8):
        crop = pixels(fit(wide, (64, 64), random.Random(seed), random_crop=True))
        left = next(x for x in range(33) if np.array_equal(crop, pixels(wide)[:, x : x + 64]))
        lefts.add(left)
    assert len(lefts) >= 4 and lefts != {16}


def test_captions_start_with_the_trigger_word() -> None:
    options = params(fileUrlList=["data:a", "data:b"], captionList=["red, zxq", "blue"], triggerWord="zxq")
    assert [caption_for(options, index) for index in range(2)] == ["red, zxq", "zxq, blue"]
    assert caption_for(params(triggerWord="zxq"), 0) == "zxq"


@pytest.mark.parametrize("option", ["randomCrop", "colorAug"])
def test_per_step_augmentations_need_uncached_latents(option: str) -> None:
    with pytest.raises(ValidationError) as refused:
        params(**{option: True})
    assert option in str(refused.value) and "set cacheLatents to false" in str(refused.value)
    assert getattr(params(**{option: True, "cacheLatents": False}), option) is True
    assert params(flipAug=True).flipAug is True  # flips work on cached latents


def test_warm_up_steps_with_the_constant_schedule_are_refused() -> None:
    """The constant schedule has no warm-up: the steps would be ignored, so they are refused."""
    body = {"taskId": "t", "fileUrlList": ["https://example.com/a.png"], "lrWarmupSteps": 4}
    with pytest.raises(ValidationError, match="constant_with_warmup"):
        TrainingParams.model_validate({**body, "lrScheduler": "constant"})
    assert TrainingParams.model_validate({**body, "lrScheduler": "constant_with_warmup"}).lrWarmupSteps == 4
