"""ControlNet preprocessors: one registry used by both the SD controlnet endpoint (`module`) and
the cnt/preview tool. Each takes an image and the unit's settings and returns the control map, at
`resolution` pixels on its shorter side.

`preprocess(name, image, settings, max_pixels, field)` is what cnt/preview and the SD controlnet
units both run: the map-size guard, then `annotate(name, image, settings)`, which gives the map
with the backend that made it and, for the pose preprocessors, the OpenPose JSON.
`get_preprocessor(name)` gives just the map. Names are sd-webui-controlnet's, with its longer
module names as aliases. Pass `PreprocessSettings(models=AnnotatorModels(cache), models_dir=...)`
to keep the networks in a model cache and to find depth weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.vision.control import colour, depth, edges, face, lines, openpose
from imgopen.vision.control.models import AnnotatorModels
from imgopen.vision.control.names import ALIASES, NAMES, canonical
from imgopen.vision.control.settings import ControlMap, PreprocessSettings, check_map_size

__all__ = [
    "ALIASES",
    "ANNOTATORS",
    "PREPROCESSORS",
    "AnnotatorModels",
    "ControlMap",
    "PreprocessSettings",
    "annotate",
    "canonical",
    "get_preprocessor",
    "preprocess",
]

Annotator = Callable[[Image.Image, PreprocessSettings], ControlMap]
Preprocessor = Callable[[Image.Image, PreprocessSettings], Image.Image]


def passthrough(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """ "none": the image itself is the control (an already made map)."""
    return ControlMap(image.convert("RGB"), "none")


ANNOTATORS: Mapping[str, Annotator] = MappingProxyType(
    {
        "none": passthrough,
        "canny": edges.canny,
        "softedge_hed": edges.softedge_hed,
        "softedge_hedsafe": edges.softedge_hedsafe,
        "lineart": edges.lineart,
        "lineart_standard": edges.lineart_standard,
        "scribble": edges.scribble,
        "scribble_xdog": edges.scribble_xdog,
        "mlsd": lines.mlsd,
        "openpose": openpose.openpose,
        "openpose_hand": openpose.openpose_hand,
        "openpose_face": openpose.openpose_face,
        "openpose_faceonly": openpose.openpose_faceonly,
        "openpose_full": openpose.openpose_full,
        "mediapipe_face": face.mediapipe_face,
        "shuffle": colour.shuffle,
        "tile": colour.tile,
        "color": colour.color,
        "invert": edges.invert,
        "binary": edges.binary,
        "depth": depth.depth,
        "normal": depth.normal,
    }
)
# One list of names (control/names.py), so that the API's checks and this table never differ.
assert tuple(ANNOTATORS) == NAMES, "vision/control/names.py and ANNOTATORS list different preprocessors"


def _image_only(annotator: Annotator) -> Preprocessor:
    def run(image: Image.Image, settings: PreprocessSettings) -> Image.Image:
        return annotator(image, settings).image

    return run


PREPROCESSORS: Mapping[str, Preprocessor] = MappingProxyType(
    {name: _image_only(annotator) for name, annotator in ANNOTATORS.items()}
)


def get_preprocessor(name: str) -> Preprocessor | None:
    key = canonical(name)
    return PREPROCESSORS[key] if key is not None else None


def preprocess(name: str, image: Image.Image, settings: PreprocessSettings, max_pixels: int, field: str) -> ControlMap:
    """What both cnt/preview and the SD controlnet endpoint's units run: the map-size guard ("400"
    naming `field`, the request's resolution field), then the preprocessor with the settings' models
    folder (depth weights) and loaded networks."""
    check_map_size(image.size, settings.resolution, max_pixels, field)
    return annotate(name, image, settings)


def annotate(name: str, image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    key = canonical(name)
    if key is None:
        raise ImgOpenError("400", f"preprocessor: unknown {name!r}; valid: {', '.join(ANNOTATORS)}")
    return ANNOTATORS[key](image, settings)
