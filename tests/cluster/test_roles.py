"""Each role imports only what it needs: the API role no model library, a worker no HTTP framework.
Checked in fresh interpreters (this test process has imported everything already)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MODEL_LIBRARIES = ("torch", "diffusers", "transformers", "cv2", "mediapipe", "onnxruntime", "peft", "scipy")

API_ROLE = """
import json, sys
from imgopen.api.app import create_app
from imgopen.config import Settings
from imgopen.roles.api import build_api

settings = Settings(data_dir=sys.argv[1], models_dir=sys.argv[2], executor="celery")
services = build_api(settings)
app = create_app(services, start_services=False)
schema = app.openapi()
print(json.dumps({"modules": sorted(sys.modules), "paths": len(schema["paths"])}))
"""

WORKER_ROLE = """
import json, sys
from imgopen.cluster.worker_main import run_worker
from imgopen.config import Settings
from imgopen.roles.worker import build_worker

services = build_worker(Settings(data_dir=sys.argv[1], models_dir=sys.argv[2], executor="celery"))
print(json.dumps({"modules": sorted(sys.modules), "tools": len(list(services.runnable))}))
"""


def run(script: str, tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data"), str(tmp_path / "models")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_the_api_role_imports_no_model_library(tmp_path: Path) -> None:
    answer = run(API_ROLE, tmp_path)
    modules = answer["modules"]
    assert isinstance(modules, list)
    loaded = [name for name in MODEL_LIBRARIES if name in modules]
    assert loaded == [], f"the API role imported {loaded}"
    # ...and still serves every endpoint: tools, SD, lists, training.
    assert isinstance(answer["paths"], int) and answer["paths"] > 60


def test_a_worker_imports_no_http_framework(tmp_path: Path) -> None:
    answer = run(WORKER_ROLE, tmp_path)
    modules = answer["modules"]
    assert isinstance(modules, list)
    assert [name for name in ("fastapi", "starlette", "uvicorn") if name in modules] == []
    assert isinstance(answer["tools"], int) and answer["tools"] >= 19
