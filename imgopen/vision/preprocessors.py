"""ControlNet preprocessors: one registry used by both the SD controlnet endpoint (`module`) and
the cnt/preview tool. Each takes an image and the unit's settings and returns the control map, at
`resolution` pixels on its shorter side.

`annotate(name, image, settings)` gives the map with the backend that made it and, for the pose
preprocessors, the OpenPose JSON; `get_preprocessor(name)` gives just the map (what the engine
needs). Names are sd-webui-controlnet's, with its longer module names as aliases. Pass
`PreprocessSettings(models=AnnotatorModels(), models_dir=...)` to reuse loaded networks and to find
depth weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.vision.control import colour, depth, edges, face, lines, openpose
from imgopen.vision.control.models import AnnotatorModels
from imgopen.vision.control.settings import ControlMap, PreprocessSettings

__all__ = [
    "ALIASES",
    "ANNOTATORS",
    "PREPROCESSORS",
    "AnnotatorModels",
    "ControlMap",
    "PreprocessSettings",
    "annotate",
    "get_preprocessor",
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
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "invert (from white bg & black line)": "invert",
        "hed": "softedge_hed",
        "softedge": "softedge_hed",
        "hed_safe": "softedge_hedsafe",
        "lineart_realistic": "lineart",
        "lineart_standard (from white bg & black line)": "lineart_standard",
        "scribble_hed": "scribble",
        "fake_scribble": "scribble",
        "mlsd_lines": "mlsd",
        "openpose_body": "openpose",
        "dw_openpose_full": "openpose_full",
        "mediapipe_face_mesh": "mediapipe_face",
        "shuffle_content": "shuffle",
        "content_shuffle": "shuffle",
        "tile_resample": "tile",
        "t2ia_color_grid": "color",
        "threshold": "binary",
        "depth_midas": "depth",
        "depth_anything": "depth",
        "depth_anything_v2": "depth",
        "normal_midas": "normal",
    }
)


def _image_only(annotator: Annotator) -> Preprocessor:
    def run(image: Image.Image, settings: PreprocessSettings) -> Image.Image:
        return annotator(image, settings).image

    return run


PREPROCESSORS: Mapping[str, Preprocessor] = MappingProxyType(
    {name: _image_only(annotator) for name, annotator in ANNOTATORS.items()}
)


def canonical(name: str) -> str | None:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in ANNOTATORS else None


def get_preprocessor(name: str) -> Preprocessor | None:
    key = canonical(name)
    return PREPROCESSORS[key] if key is not None else None


def annotate(name: str, image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    key = canonical(name)
    if key is None:
        raise ImgOpenError("400", f"preprocessor: unknown {name!r}; valid: {', '.join(ANNOTATORS)}")
    return ANNOTATORS[key](image, settings)
