"""An offline classifier over image statistics, for the published list of styles (vision/styles.py).

What the statistics can and cannot tell (checked in tests/tools/understanding on photographs from
scikit-image and on drawings made in the tests): photographs (colour or black and white), line
art, pencil sketches, pixel art and flat-colour illustrations are recognised from measurable
traits (sensor grain, paper, stroke widths, block grids, flat fills). Anime, 3D renders, oil
paintings and watercolours have no such trait: their scores are weak hints (outlined cel
shading, clean smooth gradients, coarse texture, pale soft washes), and they never outscore a
trait that was really measured.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from imgopen.vision.style_features import StyleFeatures, measure
from imgopen.vision.styles import STYLE_NAMES

METHOD = "offline-statistics"


FLOOR = 0.01  # every style keeps a little evidence, so the scores stay a distribution


def _rise(value: float, centre: float, width: float) -> float:
    """A soft step from 0 to 1 around `centre` (logistic, `width` = a quarter of the ramp)."""
    return float(1 / (1 + np.exp(-(value - centre) / width)))


def _evidence(f: StyleFeatures) -> dict[str, float]:
    grey = _rise(0.04 - f.chroma, 0, 0.01)
    colour = 1 - grey
    flat = _rise(f.flat, 0.75, 0.05)
    natural = _rise(0.7 - f.flat, 0, 0.06) * _rise(f.noise, 0.45, 0.1)
    paper = _rise(f.paper, 0.5, 0.08)
    thin = _rise(8 - f.stroke_width, 0, 1.5)
    has_ink = _rise(f.ink, 0.01, 0.004)
    pixel = _rise(f.grid, 0.7, 0.05) * _rise(f.flat, 0.8, 0.04)
    few_colours = _rise(f.palette8, 0.8, 0.05)
    outlined = has_ink * thin * _rise(0.2 - f.ink, 0, 0.03)
    clean = _rise(0.3 - f.noise, 0, 0.08)
    return {
        "photograph": colour * natural * (1 - paper),
        "black and white photograph": grey * natural * (1 - paper),
        "pixel art": pixel,
        "line art": grey * paper * has_ink * thin * _rise(0.35 - f.midtones, 0, 0.05),
        "sketch": grey * _rise(f.paper, 0.3, 0.1) * _rise(f.midtones, 0.5, 0.08) * _rise(f.texture, 1.0, 0.3),
        "illustration": colour * flat * few_colours * clean * (1 - pixel) * (1 - 0.6 * outlined),
        # Hints only (see the module's docstring): scaled down so a measured trait wins.
        "anime": 0.8 * colour * flat * outlined * (1 - pixel),
        "3D render": 0.5 * colour * clean * _rise(0.6 - f.flat, 0, 0.08) * _rise(f.smooth, 0.7, 0.05),
        "oil painting": 0.4 * colour * natural * _rise(f.texture, 5, 1) * _rise(f.saturation, 0.5, 0.08),
        "watercolour": 0.5
        * colour
        * _rise(f.paper, 0.15, 0.05)
        * _rise(0.45 - f.saturation, 0, 0.08)
        * _rise(f.smooth, 0.6, 0.05)
        * (1 - flat),
    }


def classify_features(features: StyleFeatures) -> list[tuple[str, float]]:
    """(style, score) for every style in STYLES, best first; scores sum to 1."""
    evidence = _evidence(features)
    raw = {name: max(evidence.get(name, 0.0), 0.0) + FLOOR for name in STYLE_NAMES}
    total = sum(raw.values())
    scores = [(name, value / total) for name, value in raw.items()]
    return sorted(scores, key=lambda pair: -pair[1])


def classify(image: Image.Image) -> list[tuple[str, float]]:
    return classify_features(measure(image))
