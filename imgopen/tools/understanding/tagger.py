"""Danbooru-style tags from a WD14-style ONNX tagger (models/taggers/): the image padded to a white
square, resized to the model's side, fed as NHWC float32 BGR 0..255; the output holds one sigmoid
probability per row of the tag list (selected_tags.csv: tag_id, name, category, count)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.errors import ImgOpenError
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.tools.understanding.model_folders import TAGGER, tag_list_for

DEFAULT_SIDE = 448
# selected_tags.csv categories.
RATING, GENERAL, CHARACTER = 9, 0, 4
CHARACTER_THRESHOLD = 0.85  # characters are named only when the tagger is sure (the taggers' own default)
# Emoticon tags whose underscores are part of the face, kept as written.
_KEEP_UNDERSCORES = frozenset(
    ("^_^", "o_o", "0_0", "(o)_(o)", "+_+", "._.", "<o>_<o>", "<|>_<|>", "=_=", ">_<", "3_3", "6_9", ">_o", "@_@")
)


@dataclass(frozen=True)
class TagRow:
    name: str
    category: int


@dataclass(frozen=True)
class Tagged:
    tags: list[tuple[str, float, str]]  # (tag, probability, "general" | "character"), best first
    rating: str | None
    model: str  # the tagger's file name


def read_tag_list(path: Path) -> list[TagRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "name" not in reader.fieldnames:
            raise ImgOpenError("503", f"{path} is not a tagger tag list: it needs a 'name' column")
        return [TagRow(row["name"], int(row.get("category") or GENERAL)) for row in reader]


def readable(tag: str) -> str:
    """'long_hair' -> 'long hair' (as A1111 writes tags), emoticons kept."""
    return tag if tag in _KEEP_UNDERSCORES else tag.replace("_", " ")


def prepare(image: Image.Image, side: int) -> NDArray[np.float32]:
    """(1, side, side, 3) BGR float32 0..255: the image centred on a white square, then resized."""
    rgb = image.convert("RGBA")
    square = max(rgb.size)
    canvas = Image.new("RGBA", (square, square), (255, 255, 255, 255))
    canvas.alpha_composite(rgb, ((square - rgb.width) // 2, (square - rgb.height) // 2))
    resized = canvas.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    bgr = np.asarray(resized, np.float32)[:, :, ::-1]
    return np.ascontiguousarray(bgr[None])


class Tagger:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)

    @staticmethod
    def model(models_dir: Path) -> Path | None:
        return TAGGER.find(models_dir)

    def tag(self, model: Path, image: Image.Image, threshold: float) -> Tagged:
        rows = read_tag_list(tag_list_for(model))
        session = onnx_session(self._cache, model)
        spec = session.get_inputs()[0]
        side = spec.shape[1] if len(spec.shape) == 4 and isinstance(spec.shape[1], int) else DEFAULT_SIDE
        probabilities = np.asarray(session.run(None, {spec.name: prepare(image, side)})[0], np.float32).reshape(-1)
        if probabilities.size != len(rows):
            raise ImgOpenError(
                "503",
                f"the tagger {model.name} gives {probabilities.size} scores but its tag list has {len(rows)} rows",
            )
        ratings = [(row.name, float(p)) for row, p in zip(rows, probabilities, strict=True) if row.category == RATING]
        tags: list[tuple[str, float, str]] = []
        for row, p in zip(rows, probabilities, strict=True):
            if row.category == CHARACTER and p >= CHARACTER_THRESHOLD:
                tags.append((readable(row.name), float(p), "character"))
            elif row.category not in (RATING, CHARACTER) and p >= threshold:
                tags.append((readable(row.name), float(p), "general"))
        tags.sort(key=lambda tag: -tag[1])
        rating = max(ratings, key=lambda pair: pair[1])[0] if ratings else None
        return Tagged(tags, rating, model.name)
