from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from imgopen.config import Settings
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_context


@pytest.fixture
def ctx(tmp_path: Path) -> TaskContext:
    return direct_context(Settings(data_dir=tmp_path, database_url="sqlite://"))


def stored(ctx: TaskContext, key: str) -> Image.Image:
    image = Image.open(ctx.storage.path(key))  # type: ignore[attr-defined]
    image.load()
    return image
