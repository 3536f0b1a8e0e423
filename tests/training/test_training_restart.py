"""A training interrupted by a SIGKILL resumes from its last epoch after the restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from imgopen.client import Client
from imgopen.testing.server import ServerProcess
from tests.training.test_training_api import training_body, wait_training


def test_restart_resumes_from_the_last_epoch(tmp_path: Path, tiny_models: Path, fresh_database_url: str) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    env = {
        "IMGOPEN_MODELS_DIR": str(models),
        "IMGOPEN_LEASE_SECONDS": "2",
        "IMGOPEN_DATABASE_URL": fresh_database_url,
    }
    created = json.loads(
        subprocess.run(
            [sys.executable, "-m", "imgopen", "keys", "create", "--name", "t", "--json", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        ).stdout
    )
    process = ServerProcess(tmp_path, env).start()
    client = Client(process.base_url, created["accessKeyId"], created["accessKeySecret"])
    try:
        client.call("/modelTraining/submitTraining/Job", training_body("resume-1", maxEpochs=5, repeats=2))
        deadline = time.monotonic() + 600
        while (view := client.call("/modelTraining/queryTraining/Job", {"taskId": "resume-1"}))["epoch"] in (
            None,
            1,
            2,
        ):
            assert view["state"] in ("queued", "running") and time.monotonic() < deadline, view
            time.sleep(0.3)
        assert view["epoch"] >= 3  # epochs 1 and 2 are checkpointed
        process.kill()
        process = ServerProcess(tmp_path, env, port=process.port).start()
        done = wait_training(client, "resume-1")
        assert done["state"] == "success", done
        assert done["resumedFromEpoch"] >= 2 and done["epochs"] == 5 and done["steps"] == 40
        assert len(done["epochLosses"]) == 5 and done["attempts"] == 2
        # The recorded figures carry over the restart: every update counted, every epoch's rate.
        assert done["optimizerSteps"] == 40 and done["epochLearningRates"] == [1e-2] * 5
        assert (models / "loras" / "resume-1.safetensors").is_file()
    finally:
        client.close()
        process.stop()
