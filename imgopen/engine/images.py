"""Image preparation for img2img and inpainting, as Automatic1111 does it: resize modes, mask blur
and inversion, masked-content fills, and the "only masked" crop that is pasted back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageFilter


def resize_to(image: Image.Image, size: tuple[int, int], mode: int) -> Image.Image:
    """0 just resize (stretch), 1 crop and resize (cover, centre crop), 2 resize and fill (fit,
    the borders stretched outwards and softened), 3 as 0."""
    width, height = size
    if image.size == size:
        return image.copy()
    if mode in (0, 3):
        return image.resize(size, Image.Resampling.LANCZOS)
    ratio = (
        max(width / image.width, height / image.height)
        if mode == 1
        else min(width / image.width, height / image.height)
    )
    scaled = image.resize(
        (max(1, round(image.width * ratio)), max(1, round(image.height * ratio))), Image.Resampling.LANCZOS
    )
    if mode == 1:
        left, top = (scaled.width - width) // 2, (scaled.height - height) // 2
        return scaled.crop((left, top, left + width, top + height))
    pixels = np.asarray(scaled.convert("RGB"))
    pad_x, pad_y = width - scaled.width, height - scaled.height
    filled = cv2.copyMakeBorder(
        pixels, pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2, cv2.BORDER_REPLICATE
    )
    soft = cv2.GaussianBlur(filled, (0, 0), max(2.0, min(pad_x, pad_y, 64) / 4 + 2))
    inside = np.zeros((height, width), np.float32)
    inside[pad_y // 2 : pad_y // 2 + scaled.height, pad_x // 2 : pad_x // 2 + scaled.width] = 1
    mixed = filled * inside[..., None] + soft * (1 - inside[..., None])
    return Image.fromarray(mixed.round().astype(np.uint8))


def prepare_mask(
    mask: Image.Image, size: tuple[int, int], resize_mode: int, invert: bool, blur_x: int, blur_y: int
) -> Image.Image:
    """The mask as "L", the init image's size, inverted if asked, its edge blurred."""
    grey = mask.convert("L")
    if grey.size != size:
        grey = resize_to(grey.convert("RGB"), size, resize_mode).convert("L")
    if invert:
        grey = Image.eval(grey, lambda value: 255 - value)
    if blur_x or blur_y:
        kernel = (2 * int(2.5 * blur_x + 0.5) + 1 if blur_x else 1, 2 * int(2.5 * blur_y + 0.5) + 1 if blur_y else 1)
        blurred = cv2.GaussianBlur(np.asarray(grey, np.float32), kernel, sigmaX=blur_x or 0.1, sigmaY=blur_y or 0.1)
        grey = Image.fromarray(np.asarray(blurred).clip(0, 255).round().astype(np.uint8))
    return grey


def fill_masked(image: Image.Image, mask: Image.Image, fill: int, seed: int) -> Image.Image:
    """What the masked area starts from: 0 "fill" (colours flowed in from around it), 1 the
    original, 2 "latent noise" (random colours), 3 "latent nothing" (flat mid-grey, which
    encodes to latents near zero)."""
    if fill == 1:
        return image
    pixels = np.asarray(image.convert("RGB")).copy()
    hard = np.asarray(mask) > 127
    if fill == 0:
        pixels = cv2.inpaint(pixels, hard.astype(np.uint8) * 255, 8, cv2.INPAINT_TELEA)
        pixels = np.where(hard[..., None], cv2.GaussianBlur(pixels, (0, 0), 8), pixels)
    elif fill == 2:
        noise = np.random.default_rng(seed).integers(0, 256, pixels.shape, dtype=np.uint8)
        pixels = np.where(hard[..., None], noise, pixels)
    else:
        pixels = np.where(hard[..., None], np.uint8(127), pixels)
    return Image.fromarray(pixels)


@dataclass(frozen=True)
class CropRegion:
    """The part of the image that "only masked" inpainting works on."""

    box: tuple[int, int, int, int]  # left, top, right, bottom

    @property
    def size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]


def masked_region(mask: Image.Image, padding: int, target: tuple[int, int]) -> CropRegion | None:
    """The mask's bounding box grown by `padding`, then widened to the target's aspect ratio
    (so the crop is not distorted when scaled to it), inside the image. None: empty mask."""
    box = mask.point(lambda value: 255 if value > 0 else 0).getbbox()
    if box is None:
        return None
    width, height = mask.size
    left, top = max(0, box[0] - padding), max(0, box[1] - padding)
    right, bottom = min(width, box[2] + padding), min(height, box[3] + padding)
    want = target[0] / target[1]
    crop_w, crop_h = right - left, bottom - top
    if crop_w / crop_h < want:
        grow = round(crop_h * want) - crop_w
        left, right = left - grow // 2, right + grow - grow // 2
    else:
        grow = round(crop_w / want) - crop_h
        top, bottom = top - grow // 2, bottom + grow - grow // 2
    # Slide back inside the image, then clip (a crop wider than the image is clipped).
    shift_x = max(0, -left) - max(0, right - width)
    shift_y = max(0, -top) - max(0, bottom - height)
    left, right, top, bottom = left + shift_x, right + shift_x, top + shift_y, bottom + shift_y
    return CropRegion((max(0, left), max(0, top), min(width, right), min(height, bottom)))


def paste_back(
    original: Image.Image, painted: Image.Image, mask: Image.Image, region: CropRegion | None
) -> Image.Image:
    """The original with the painted pixels laid over it through the (soft) mask: outside the
    mask the original stays exactly as it was."""
    base = original.convert("RGB")
    if region is None:
        layer = painted.convert("RGB").resize(base.size, Image.Resampling.LANCZOS)
        return Image.composite(layer, base, mask)
    layer = base.copy()
    layer.paste(painted.convert("RGB").resize(region.size, Image.Resampling.LANCZOS), region.box[:2])
    return Image.composite(layer, base, mask)


def dilate(mask: Image.Image, pixels: int) -> Image.Image:
    if pixels == 0:
        return mask
    size = 2 * abs(pixels) + 1
    return mask.filter(ImageFilter.MaxFilter(size) if pixels > 0 else ImageFilter.MinFilter(size))
