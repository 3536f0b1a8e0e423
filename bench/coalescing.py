"""Coalesced generation in one run: images per second of 4 compatible text2image requests (different
prompts and seeds) run as one denoising batch (DiffusionEngine.generate_batch, what a worker does
with compatible queued tasks) over the same 4 run one after another (generate), on the tiny SD 1.5
and on a random-weight SD 1.5 of the real size (imgopen.testing.real_size). Goal on a GPU: >= 2.5.
tests/engine/test_coalesce.py shows that each request gets the images it gets alone.

Usage: python bench/coalescing.py [--requests 4] [--steps N] [--rounds N] [--only tiny|real]
Defaults: 20 steps on a GPU, 4 on a CPU; the median of 2 rounds after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.real_size import engine_for, timed

PROMPTS = ["a red cat on a sofa", "a lighthouse at dusk", "a bowl of ramen, top view", "an old map of a city"]


def jobs(engine: Any, name: str, size: int, steps: int, count: int) -> list[Any]:
    from imgopen.engine.params import Text2ImageParams
    from imgopen.testing.direct import direct_context

    bodies = [
        {
            "prompt": PROMPTS[index % len(PROMPTS)],
            "batch_size": 1,
            "steps": steps,
            "width": size,
            "height": size,
            "seed": 100 + index,
            "sd_model_checkpoint": name,
        }
        for index in range(count)
    ]
    return [
        (Text2ImageParams.model_validate(body), direct_context(engine.settings, f"b{i}"))
        for i, body in enumerate(bodies)
    ]


def measure(engine: Any, name: str, size: int, steps: int, count: int, rounds: int) -> tuple[float, float]:
    """(images/s coalesced, images/s one after another)."""
    import torch

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def apart() -> None:
        for params, ctx in jobs(engine, name, size, steps, count):
            engine.generate(params, ctx)
        sync()

    def together() -> None:
        failures: list[BaseException] = []

        def done(_index: int, outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                failures.append(outcome)
            elif outcome.info["batch_tasks"] != count:
                failures.append(RuntimeError(f"ran as batches of {outcome.info['batch_tasks']}"))

        engine.generate_batch(jobs(engine, name, size, steps, count), done)
        sync()
        if failures:
            raise failures[0]

    one_by_one = timed(apart, rounds)
    batched = timed(together, rounds)
    return count / batched, count / one_by_one


def main() -> None:
    import torch

    from imgopen.testing.real_size import models_folder, real_size_model
    from imgopen.testing.tiny_models import write_models_folder

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20 if cuda else 4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["tiny", "real"], default=None)
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"{device}; {args.requests} requests of 1 image, {args.steps} steps; images per second")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases: list[tuple[str, Path, str, int]] = []
        if args.only in (None, "tiny"):
            write_models_folder(root / "tiny")
            cases.append(("tiny SD 1.5", root / "tiny", "tiny-sd15", 64))
        if args.only in (None, "real"):
            model = real_size_model("sd15", log=lambda line: print("  " + line, flush=True))
            cases.append(("real-size SD 1.5", models_folder(root / "real", [model], "folder"), model.name, 512))
        for label, models, name, size in cases:
            engine = engine_for(root / f"data-{name}", models, coalesce_max=args.requests)
            together, apart = measure(engine, name, size, args.steps, args.requests, args.rounds)
            dtype = str(engine.placement.dtype).removeprefix("torch.")
            print(
                f"{label} {size}x{size} ({dtype}): coalesced {together:.3f}, one after another {apart:.3f}: "
                f"ratio {together / apart:.2f}" + (" (goal >= 2.5)" if cuda else "")
            )
            report[label] = {"coalesced": together, "apart": apart, "ratio": together / apart}
            del engine
    print(json.dumps(report), file=sys.stderr)


if __name__ == "__main__":
    main()
