"""txt2img through the Automatic1111 face (/sdapi/v1/txt2img, answered when the picture is done)
against sd/v2/text2image (submit, then a long-polling query), on one `imgopen serve` process, warm,
tiny SD 1.5. Prints the medians and their ratio (goal <= 1.05).

Usage: python bench/a1111.py [--rounds 15] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from imgopen.accounts.keys import KeyStore
from imgopen.client import Client
from imgopen.db.engine import Database
from imgopen.testing.server import ServerProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="imgopen-bench-a1111-"))
    from imgopen.testing.tiny_models import write_models_folder

    write_models_folder(root / "models")
    body = {"prompt": "a red cat", "width": 64, "height": 64, "steps": args.steps, "sampler_name": "Euler a"}
    env = {"IMGOPEN_MODELS_DIR": str(root / "models"), "IMGOPEN_LOG_LEVEL": "warning"}
    with ServerProcess(root / "data", env) as server:
        key = KeyStore(Database(f"sqlite:///{root / 'data' / 'imgopen.db'}")).create("bench")
        a1111 = httpx.Client(base_url=server.base_url, auth=(key.id, key.secret), timeout=600, trust_env=False)
        native = Client(server.base_url, key.id, key.secret, timeout=600)

        def through_a1111(seed: int) -> float:
            started = time.perf_counter()
            answer = a1111.post("/sdapi/v1/txt2img", json={**body, "seed": seed})
            assert answer.status_code == 200 and len(answer.json()["images"]) == 1, answer.text[:300]
            return time.perf_counter() - started

        def through_img_open(seed: int) -> float:
            started = time.perf_counter()
            handle = native.text2image(
                "a red cat", width=64, height=64, steps=args.steps, sampler_name="Euler a", seed=seed
            )
            done = native.wait(handle)
            assert done["status"] == 2, done
            return time.perf_counter() - started

        for seed in range(2):  # warm: the checkpoint loaded, both paths run once
            through_a1111(seed)
            through_img_open(seed)
        a1111_times, native_times = [], []
        for seed in range(args.rounds):  # interleaved: drift on the machine hits both alike
            a1111_times.append(through_a1111(100 + seed))
            native_times.append(through_img_open(100 + seed))
        a1111.close()
        native.close()
    a, n = statistics.median(a1111_times), statistics.median(native_times)
    print(f"tiny SD 1.5, 64 px, {args.steps} steps, {args.rounds} rounds each, warm")
    print(f"  /sdapi/v1/txt2img          median {a * 1000:.0f} ms")
    print(f"  sd/v2/text2image + query   median {n * 1000:.0f} ms")
    print(f"  ratio A1111 / Img Open: {a / n:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
