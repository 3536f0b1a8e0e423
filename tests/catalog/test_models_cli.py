"""`imgopen models list` and `imgopen models pull` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from imgopen.testing.http_peers import running_peer


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgopen", "models", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_pull_a_url_into_the_kind_folder_then_list_it(tmp_path: Path, tiny_models: Path) -> None:
    models = tmp_path / "models"
    lora = (tiny_models / "loras" / "tiny-style.safetensors").read_bytes()
    with running_peer() as peer:
        url = peer.file("/files/style-v2.safetensors", lora, "application/octet-stream")
        done = cli("pull", url, "--kind", "lora", "--models-dir", str(models))
    assert done.returncode == 0, done.stderr
    saved = models / "loras" / "style-v2.safetensors"
    assert saved.read_bytes() == lora
    listed = cli("list", "--json", "--models-dir", str(models), "--data-dir", str(tmp_path / "data"))
    rows = json.loads(listed.stdout)
    assert [(r["kind"], r["name"], r["baseModel"]) for r in rows] == [("lora", "style-v2.safetensors", "SD 1.5")]


def test_pull_refuses_bad_kinds_and_offline_repos(tmp_path: Path) -> None:
    bad = cli("pull", "owner/repo", "--kind", "nonsense", "--models-dir", str(tmp_path))
    assert bad.returncode == 2 and "unknown kind" in bad.stderr
    offline = cli("pull", "owner/repo", "--models-dir", str(tmp_path), env={"HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 1 and "HF_HUB_OFFLINE" in offline.stderr
