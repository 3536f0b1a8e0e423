from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imgopen.config import Settings
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_context

ContextFactory = Callable[[Path | None], TaskContext]


@pytest.fixture(scope="session")
def understanding_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the understanding tests: its cache (the CLIP tokenizer, the vocabulary's
    sentence embeddings) is built once."""
    return tmp_path_factory.mktemp("understanding-data")


@pytest.fixture(scope="module")
def make_ctx(understanding_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ContextFactory:
    """A direct TaskContext whose models folder is `models` (default: an empty one)."""

    def make(models: Path | None = None) -> TaskContext:
        models_dir = models if models is not None else tmp_path_factory.mktemp("no-models")
        return direct_context(Settings(data_dir=understanding_data, models_dir=models_dir, database_url="sqlite://"))

    return make
