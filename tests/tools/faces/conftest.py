"""Shared fixtures of the face tool tests: the tools (built once: MediaPipe graphs and loaded
models are kept), a context per test with its own models folder, and face photographs from
scikit-image (the astronaut, and lfw_subset's 25x25 faces enlarged)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from imgopen.config import Settings
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_context
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.faces import build
from imgopen.tools.registry import AnyTool

ByteArray = NDArray[np.uint8]


@pytest.fixture(scope="package")
def face_tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AnyTool]:
    root = tmp_path_factory.mktemp("face-tools")
    settings = Settings(data_dir=root, models_dir=root / "models", database_url="sqlite://")
    return {tool.code: tool for tool in build(settings)}


ContextFactory = Callable[..., TaskContext]


@pytest.fixture
def make_ctx(tmp_path: Path) -> ContextFactory:
    """A direct context whose models folder is `models` (default: an empty one)."""

    def make(models: Path | None = None) -> TaskContext:
        models_dir = models or tmp_path / "no-models"
        return direct_context(Settings(data_dir=tmp_path / "data", models_dir=models_dir, database_url="sqlite://"))

    return make


def call(tool: AnyTool, ctx: TaskContext, **fields: Any) -> Any:
    """The tool's run() on validated params, as a worker calls it."""
    return tool.run(tool.params_model.model_validate(fields), ctx)


def output(ctx: TaskContext, key: str) -> ByteArray:
    image = Image.open(ctx.storage.path(key))  # type: ignore[attr-defined]
    return np.asarray(image.convert("RGB"), np.uint8)


def uri(image: ByteArray | Image.Image) -> str:
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    return data_uri(encode(pil))


def astronaut_rgb() -> ByteArray:
    return np.asarray(astronaut(), np.uint8)


@cache
def _lfw() -> ByteArray:
    from skimage import data

    return np.asarray(data.lfw_subset() * 255, np.float64).round().astype(np.uint8)


def lfw_faces() -> ByteArray:
    """lfw_subset's 200 crops, 25x25 grey, as uint8: the first 100 are faces, the last 100 not."""
    return _lfw()


def lfw_portrait(index: int, size: int = 200) -> ByteArray:
    """lfw_subset face `index` enlarged to `size` px with a border of half that (replicated edge),
    as RGB: a portrait photo with context around the face."""
    grey = cv2.resize(_lfw()[index], (size, size), interpolation=cv2.INTER_CUBIC)
    pad = size // 2
    framed = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.asarray(cv2.cvtColor(framed, cv2.COLOR_GRAY2RGB), np.uint8)


def two_faces() -> ByteArray:
    """800x400: the astronaut's head on the left, lfw face 2 (a different man) on the right."""
    left = cv2.resize(astronaut_rgb()[20:260, 110:350], (400, 400), interpolation=cv2.INTER_AREA)
    right = cv2.resize(lfw_portrait(2), (400, 400), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.hstack([left, right]))
