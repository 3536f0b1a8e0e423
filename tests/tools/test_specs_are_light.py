"""The API role knows every tool by its spec alone: importing the specs (and listing them) loads no
model library, and each spec describes its tool exactly (same code, class, params and result)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import open_database
from imgopen.engine.service import DiffusionEngine
from imgopen.tools.builtin import builtin_tools
from imgopen.tools.specs import builtin_specs

HEAVY = ("torch", "diffusers", "transformers", "cv2", "mediapipe", "onnxruntime", "scipy", "skimage", "peft", "ncnn")
PROBE = f"""
import sys
from imgopen.testing.tools import SleepSpec
from imgopen.tools.specs import builtin_specs
specs = builtin_specs()
assert len(specs) > 0 and SleepSpec().code
print(" ".join(name for name in {HEAVY!r} if name in sys.modules))
"""


def test_the_specs_import_no_model_library() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    offenders = done.stdout.split()
    assert not offenders, f"importing the specs imported {', '.join(offenders)}"


def test_each_tool_is_its_spec(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models_dir=tmp_path / "models", database_url="sqlite://")
    engine = DiffusionEngine(ModelCatalog(settings.models_dir.resolve(), open_database(settings), 0), settings)
    specs = {spec.code: spec for spec in builtin_specs()}
    tools = {tool.code: tool for tool in builtin_tools(engine)}
    assert list(specs) == list(tools)
    for code, tool in tools.items():
        spec = specs[code]
        assert isinstance(tool, type(spec)), code
        assert (tool.params_model, tool.result_model) == (spec.params_model, spec.result_model), code
        assert (tool.pool, tool.synchronous) == (spec.pool, spec.synchronous), code
