"""The training server: the tiny models copied (a trained LoRA lands in the copy), loopback URLs
allowed (callback receivers and file servers run on 127.0.0.1)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgopen.services import build_services
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def trainer(
    make_settings: SettingsFactory, tiny_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    models = tmp_path_factory.mktemp("training-models")
    shutil.copytree(tiny_models, models, dirs_exist_ok=True)  # the trained LoRA lands in this copy
    running = Served(build_services(make_settings(models_dir=models, url_allowlist=["127.0.0.1"])))
    yield running
    running.stop()
