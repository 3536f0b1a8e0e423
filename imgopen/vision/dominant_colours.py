"""The few colours that cover most of a picture: k-means in CIELAB on a small copy, clusters named
with colour_names and merged when they share a name."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy.cluster.vq import kmeans2

from imgopen.vision.colour_names import ColourNamer, hex_colour, to_lab

SAMPLE_SIDE = 128  # enough pixels for stable shares, few enough for a fast k-means


@dataclass(frozen=True)
class NamedColour:
    name: str
    share: float  # of the picture's pixels, 0..1
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return hex_colour(self.rgb)


def dominant_colours(image: Image.Image, clusters: int = 6, namer: ColourNamer | None = None) -> list[NamedColour]:
    """Named colours, largest share first (shares of merged clusters add up)."""
    namer = namer or ColourNamer()
    # Sampled, not averaged: averaging would turn thin black lines on white into light grey.
    small = image.convert("RGB")
    small.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.NEAREST)
    rgb = np.asarray(small, np.float32).reshape(-1, 3)
    lab = to_lab(rgb).astype(np.float64)
    count = min(clusters, len(np.unique(rgb, axis=0)))
    # A fixed seed: the same picture always gets the same description.
    centres, labels = kmeans2(lab, count, minit="++", seed=np.random.default_rng(0))
    merged: dict[str, tuple[float, NDArray[np.float32]]] = {}
    for index in range(len(centres)):
        members = labels == index
        if not members.any():
            continue
        mean_rgb = rgb[members].mean(axis=0)
        share = float(members.mean())
        name = namer.name(mean_rgb)
        if name in merged:
            old_share, old_rgb = merged[name]
            total = old_share + share
            merged[name] = (total, (old_rgb * old_share + mean_rgb * share) / total)
        else:
            merged[name] = (share, mean_rgb)
    colours = [
        NamedColour(name, share, (round(float(c[0])), round(float(c[1])), round(float(c[2]))))
        for name, (share, c) in merged.items()
    ]
    return sorted(colours, key=lambda colour: -colour.share)


def lightness(image: Image.Image) -> tuple[float, float]:
    """(mean, standard deviation) of CIELAB lightness, 0..100."""
    small = image.convert("RGB")
    small.thumbnail((256, 256), Image.Resampling.BOX)
    rgb = np.asarray(small, np.float32) / 255
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    return float(lab[..., 0].mean()), float(lab[..., 0].std())
