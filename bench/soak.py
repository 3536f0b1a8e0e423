"""A bounded mixed load on a real `imgopen serve` with the tiny models: tools, SD generations,
queries, cancels and long polls from several client threads, for a set number of minutes after a
warm-up. Prints throughput per operation, error counts, and the server's memory (RSS) after the
warm-up and at the end (goals: 0 errors, memory growth under 5 %).

Usage: python bench/soak.py [--minutes 5] [--warmup 1] [--clients 6]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imgopen.accounts.keys import KeyStore
from imgopen.client import ApiError, Client, TaskHandle
from imgopen.db.engine import Database
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.testing.server import ServerProcess

PHOTO = data_uri(encode(astronaut().resize((96, 96))))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Load:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.done: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.examples: list[str] = []
        self.recent: list[TaskHandle] = []
        self.lock = threading.Lock()

    def operations(self) -> list[tuple[str, Callable[[], None], int]]:
        return [
            ("tool imgEnlarge", self.enlarge, 4),
            ("tool watermark", self.watermark, 2),
            ("tool cnt/preview", self.preview, 2),
            ("tool identifyStyle", self.style, 1),
            ("sd text2image", self.generate, 2),
            ("query", self.query, 4),
            ("long poll", self.long_poll, 2),
            ("cancel", self.cancel, 1),
        ]

    def _keep(self, handle: TaskHandle) -> None:
        with self.lock:
            self.recent = [*self.recent[-50:], handle]

    def _ended_ok(self, handle: TaskHandle, allowed: tuple[str, ...] = ("success",)) -> None:
        answer = self.client.wait(handle, timeout=300)
        if answer["state"] not in allowed:
            raise RuntimeError(f"{handle.kind} {handle.tool_code} ended {answer['state']}: {answer.get('errorMsg')}")

    def enlarge(self) -> None:
        handle = self.client.img_enlarge(uuid.uuid4().hex, PHOTO, scale=2)
        self._keep(handle)
        self._ended_ok(handle)

    def watermark(self) -> None:
        handle = self.client.watermark(uuid.uuid4().hex, PHOTO, text="soak", position="bottomRight")
        self._keep(handle)
        self._ended_ok(handle)

    def preview(self) -> None:
        handle = self.client.controlnet_preview(uuid.uuid4().hex, PHOTO, "canny")
        self._keep(handle)
        self._ended_ok(handle)

    def style(self) -> None:
        handle = self.client.identify_style(uuid.uuid4().hex, PHOTO)
        self._keep(handle)
        self._ended_ok(handle)

    def generate(self) -> None:
        handle = self.client.text2image("a cat", steps=4, width=64, height=64, sd_model_checkpoint="tiny-sd15")
        self._keep(handle)
        self._ended_ok(handle)

    def query(self) -> None:
        with self.lock:
            handle = random.choice(self.recent) if self.recent else None
        if handle is not None:
            self.client.query(handle)

    def long_poll(self) -> None:
        handle = self.client.text2image("a slow cat", steps=20, width=64, height=64, sd_model_checkpoint="tiny-sd15")
        answer = self.client.query(handle, wait_seconds=60)
        if answer["state"] != "success":
            self._ended_ok(handle)

    def cancel(self) -> None:
        handle = self.client.text2image("a cancelled cat", steps=150, width=64, height=64)
        time.sleep(random.uniform(0, 1.5))
        self.client.cancel(handle)
        self._ended_ok(handle, ("cancelled", "success"))

    def run(self, until: float, seed: int) -> None:
        rng = random.Random(seed)
        operations = self.operations()
        weights = [weight for _name, _op, weight in operations]
        while time.monotonic() < until:
            name, operation, _weight = rng.choices(operations, weights)[0]
            try:
                operation()
                with self.lock:
                    self.done[name] += 1
            except (ApiError, RuntimeError, OSError) as exc:
                with self.lock:
                    self.errors[name] += 1
                    if len(self.examples) < 10:
                        self.examples.append(f"{name}: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0, help="minutes of load before memory is measured")
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="imgopen-soak-"))
    from imgopen.testing.tiny_models import write_models_folder

    write_models_folder(root / "models")
    env = {"IMGOPEN_MODELS_DIR": str(root / "models"), "IMGOPEN_LOG_LEVEL": "warning"}
    with ServerProcess(root / "data", env) as server:
        created = KeyStore(Database(f"sqlite:///{root / 'data' / 'imgopen.db'}")).create("soak")
        with Client(server.base_url, created.id, created.secret, timeout=300) as client:
            load = Load(client)

            def phase(minutes: float) -> float:
                started = time.monotonic()
                until = started + minutes * 60
                threads = [
                    threading.Thread(target=load.run, args=(until, seed), daemon=True) for seed in range(args.clients)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                return time.monotonic() - started

            phase(args.warmup)
            load.done.clear()
            load.errors.clear()
            start_rss = rss_mb(server.pid)
            seconds = phase(args.minutes)
            end_rss = rss_mb(server.pid)
    total = sum(load.done.values())
    print(f"soak: {args.clients} clients, {args.minutes:g} min after {args.warmup:g} min of warm-up")
    print(f"  operations: {total} in {seconds:.0f} s = {total / seconds:.1f}/s")
    for name, count in sorted(load.done.items()):
        print(f"    {name:20s} {count:6d}  {count / seconds:6.2f}/s")
    print(f"  errors: {sum(load.errors.values())} {dict(load.errors) or ''}")
    for example in load.examples:
        print(f"    {example[:300]}")
    growth = (end_rss - start_rss) / start_rss * 100 if start_rss else 0.0
    print(f"  server RSS: {start_rss:.0f} MB after warm-up, {end_rss:.0f} MB at the end: {growth:+.1f} % (goal < 5 %)")


if __name__ == "__main__":
    main()
