"""The training set: images fetched through the safe input path, captions, aspect-ratio buckets
(as kohya's sd-scripts make them), repeats and augmentation."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.training.params import TrainingParams

BUCKET_STEP = 64


@dataclass
class Example:
    image: Image.Image
    caption: str
    bucket: tuple[int, int]  # (width, height)


@dataclass
class Dataset:
    examples: list[Example]
    warnings: list[str] = field(default_factory=list)

    def tag_frequency(self) -> dict[str, int]:
        """Comma-separated caption tags and how often they occur (kohya's ss_tag_frequency)."""
        counts: Counter[str] = Counter()
        for example in self.examples:
            counts.update(tag.strip() for tag in example.caption.split(",") if tag.strip())
        return dict(counts.most_common())


def make_buckets(resolution: int, minimum: int, maximum: int) -> list[tuple[int, int]]:
    """(width, height) pairs in steps of 64 whose area is at most resolution**2 (kohya's rule)."""
    area = resolution * resolution
    buckets = {(resolution, resolution)}
    width = minimum
    while width <= maximum:
        height = min(maximum, (area // width) // BUCKET_STEP * BUCKET_STEP)
        if height >= minimum:
            buckets.add((width, height))
            buckets.add((height, width))
        width += BUCKET_STEP
    return sorted(buckets)


def choose_bucket(size: tuple[int, int], buckets: list[tuple[int, int]]) -> tuple[int, int]:
    ratio = size[0] / size[1]
    return min(buckets, key=lambda bucket: (abs(bucket[0] / bucket[1] - ratio), -bucket[0] * bucket[1]))


def fit(image: Image.Image, bucket: tuple[int, int], rng: random.Random, random_crop: bool) -> Image.Image:
    """Scale to cover the bucket, then crop to it (centred, or at random)."""
    scale = max(bucket[0] / image.width, bucket[1] / image.height)
    resized = image.resize(
        (max(bucket[0], round(image.width * scale)), max(bucket[1], round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    spare_x, spare_y = resized.width - bucket[0], resized.height - bucket[1]
    left = rng.randint(0, spare_x) if random_crop else spare_x // 2
    top = rng.randint(0, spare_y) if random_crop else spare_y // 2
    return resized.crop((left, top, left + bucket[0], top + bucket[1]))


def augment(image: Image.Image, params: TrainingParams, rng: random.Random) -> Image.Image:
    if params.flipAug and rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if params.colorAug and not params.cacheLatents:
        shift = rng.uniform(-0.05, 0.05)
        hsv = np.asarray(image.convert("HSV")).copy()
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(shift * 255)) % 256).astype(np.uint8)
        image = Image.fromarray(hsv, "HSV").convert("RGB")
    return image


def to_tensor(image: Image.Image) -> torch.Tensor:
    """(3, H, W) in [-1, 1], as the VAE expects."""
    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 127.5 - 1.0)
    return pixels.permute(2, 0, 1).contiguous()


def caption_for(params: TrainingParams, index: int) -> str:
    caption = params.captionList[index].strip() if params.captionList else ""
    trigger = (params.triggerWord or "").strip()
    if trigger and trigger not in caption:
        caption = f"{trigger}, {caption}" if caption else trigger
    return caption


def load_dataset(params: TrainingParams, ctx: TaskContext) -> Dataset:
    """Every image that can be fetched and decoded; the others are skipped with a warning.
    Fails when none is left."""
    buckets = make_buckets(params.resolution, params.minBucketReso, params.maxBucketReso)
    dataset = Dataset([])
    for index, reference in enumerate(params.fileUrlList):
        what = f"fileUrlList[{index}]"
        try:
            image = ctx.image(reference, what)
        except ImgOpenError as exc:
            dataset.warnings.append(f"skipped {what}: {exc.msg}")
            continue
        bucket = choose_bucket(image.size, buckets) if params.enableBucket else (params.resolution, params.resolution)
        dataset.examples.append(Example(image, caption_for(params, index), bucket))
        ctx.progress(0.05 * (index + 1) / len(params.fileUrlList))
    if not dataset.examples:
        reasons = "; ".join(dataset.warnings[:5])
        raise ImgOpenError("422", f"fileUrlList: no usable training image ({reasons})")
    return dataset
