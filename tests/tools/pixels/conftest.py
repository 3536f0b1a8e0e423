from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgopen.config import Settings
from imgopen.services import Services, build_services
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_context
from tests.tools.conftest import stored


@pytest.fixture(scope="module")
def engine_services(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services whose engine has the tiny SD checkpoints (for the SD paths)."""
    data = tmp_path_factory.mktemp("pixels-engine")
    services = build_services(Settings(data_dir=data, models_dir=tiny_models, database_url=f"sqlite:///{data}/db"))
    yield services
    services.db.dispose()


def context(tmp_path: Path, models_dir: Path) -> TaskContext:
    return direct_context(Settings(data_dir=tmp_path, database_url="sqlite://", models_dir=models_dir))


def pixels(ctx: TaskContext, key: str) -> np.ndarray:
    image: Image.Image = stored(ctx, key)
    return np.asarray(image.convert("RGB")).astype(int)
