"""Real imgopen processes for end-to-end tests and benchmarks: `imgopen serve`, and the roles of a
cluster (`imgopen api`, `imgopen worker`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ImgopenProcess:
    """`python -m imgopen ARGS...` with IMGOPEN_* settings from `env`, its output in a log file."""

    def __init__(
        self,
        args: Sequence[str],
        data_dir: Path,
        env: dict[str, str] | None = None,
        name: str = "",
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.data_dir = data_dir
        # The working directory: `-m imgopen` imports the imgopen found there first (another
        # checkout's, for a comparison), else the installed one.
        self._cwd = cwd
        self._env = {
            **os.environ,
            "IMGOPEN_DATA_DIR": str(data_dir),
            "IMGOPEN_CREATE_FIRST_KEY": "false",
            "HF_HUB_OFFLINE": "1",
            **(env or {}),
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path = data_dir / f"{name or self.args[0]}.log"

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "imgopen", *self.args],
            cwd=self._cwd,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {self._proc.returncode}:\n{self.log()}")
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{what} was not ready within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(10)
        self._close_log()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM: a graceful shutdown."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class HttpProcess(ImgopenProcess):
    """A process that serves HTTP (`serve` or `api`) on a free port; started when /healthz answers."""

    def __init__(
        self,
        args: Sequence[str],
        data_dir: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {"IMGOPEN_PORT": str(self.port), "IMGOPEN_HOST": "127.0.0.1", **(env or {})}
        super().__init__(args, data_dir, env, cwd=cwd)

    def start(self, timeout: float = 90.0) -> HttpProcess:
        self.launch()
        self.wait_until(self._healthy, timeout, f"imgopen {self.args[0]}")
        return self

    def _healthy(self) -> bool:
        return httpx.get(f"{self.base_url}/healthz", timeout=1, trust_env=False).status_code == 200

    def __enter__(self) -> HttpProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class ServerProcess(HttpProcess):
    """`imgopen serve`: everything in one process."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None, cwd: Path | None = None
    ) -> None:
        super().__init__(["serve", "--no-access-log"], data_dir, env, port, cwd)
        self.log_path = data_dir / "server.log"


class ApiProcess(HttpProcess):
    """`imgopen api`: the HTTP role of a cluster."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        super().__init__(["api", "--no-access-log"], data_dir, env, port)


class WorkerProcess(ImgopenProcess):
    """`imgopen worker`: started when it has recorded itself in the workers table."""

    def __init__(
        self,
        name: str,
        pools: Sequence[str],
        data_dir: Path,
        env: dict[str, str] | None = None,
        concurrency: int | None = None,
    ) -> None:
        args = ["worker", "--name", name, *(arg for pool in pools for arg in ("--pool", pool))]
        if concurrency:
            args += ["--concurrency", str(concurrency)]
        super().__init__(args, data_dir, env, name=name)
        self.name = name
