"""The ControlNet preprocessors' names (sd-webui-controlnet's, with its longer module names as
aliases), apart from their code: the API checks `module` and cnt/preview's `preprocessor` at
submit without loading a network. vision/preprocessors.py binds each name to its function."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

NAMES: tuple[str, ...] = (
    "none",
    "canny",
    "softedge_hed",
    "softedge_hedsafe",
    "lineart",
    "lineart_standard",
    "scribble",
    "scribble_xdog",
    "mlsd",
    "openpose",
    "openpose_hand",
    "openpose_face",
    "openpose_faceonly",
    "openpose_full",
    "mediapipe_face",
    "shuffle",
    "tile",
    "color",
    "invert",
    "binary",
    "depth",
    "normal",
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


def canonical(name: str) -> str | None:
    """The preprocessor `name` stands for (aliases and case resolved), or None when there is none."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in NAMES else None
