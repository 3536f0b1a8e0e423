"""Generation through the API against diffusers called directly, in one run:

1. end-to-end text2image time through the API (submit + long-polling query) over a direct
   diffusers call with the same model, steps, size and seed (goal <= 1.10);
2. a request with a different LoRA weight over a warm identical request (goal <= 1.2: the base
   model is not reloaded when only LoRA weights change);
3. a warm request over a cold one (the first after the model cache was emptied).

By default on the tiny SD 1.5 test model (CPU is fine). `--real-size` builds a random-weight SD 1.5
of the real architecture (512x512, 20 steps; fp16 on a GPU) and also prints iterations per second
of the API against a plain diffusers loop; meant for a machine with a GPU.

Usage: python bench/generation.py [--rounds 10] [--steps 20] [--size 64] [--real-size]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build_models(root: Path, real_size: bool) -> Path:
    """A models folder with one SD 1.5 checkpoint (tiny or real-size random) and the tiny LoRA."""
    import torch

    from imgopen.testing import real_size as real
    from imgopen.testing import tiny_models

    pipe = real.sd15_pipeline(root / "cache") if real_size else tiny_models.sd15_pipeline(seed=0)
    # Saved before a LoRA is made from its UNet (making one adds adapter layers to it).
    pipe.save_pretrained(root / "checkpoints" / "bench-sd15")
    lora = tiny_models.random_unet_lora(pipe.unet, seed=11, strength=0.01 if real_size else 0.5)
    tiny_models.save_kohya_lora(lora, root / "loras" / "bench-lora.safetensors", "sd_v1", {"bench": 1})
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return root / "checkpoints" / "bench-sd15"


def direct_seconds(folder: Path, body: dict[str, Any], rounds: int) -> tuple[float, float]:
    """(median seconds per call, iterations per second) of diffusers called directly."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    from bench.real_size import timed
    from imgopen.engine.device import choose_placement

    placement = choose_placement()
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=placement.dtype, local_files_only=True)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.to(placement.device)
    pipe.set_progress_bar_config(disable=True)

    def call() -> None:
        pipe(
            body["prompt"],
            num_inference_steps=body["steps"],
            width=body["width"],
            height=body["height"],
            guidance_scale=body["cfg_scale"],
            generator=torch.Generator("cpu").manual_seed(body["seed"]),
        )

    median = timed(call, rounds)
    return median, body["steps"] / median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--real-size", action="store_true")
    args = parser.parse_args()
    size = 512 if args.real_size else args.size

    from imgopen.accounts.keys import KeyStore
    from imgopen.client import Client
    from imgopen.config import Settings
    from imgopen.db.engine import open_database
    from imgopen.testing.server import ServerProcess

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = build_models(root / "models", args.real_size)
        body = {
            "prompt": "a red cat on a sofa",
            "batch_size": 1,
            "steps": args.steps,
            "width": size,
            "height": size,
            "seed": 7,
            "cfg_scale": 7.0,
            "sampler_name": "DDIM",
            "sd_model_checkpoint": "bench-sd15",
        }
        direct, direct_its = direct_seconds(folder, body, args.rounds)
        data = root / "data"
        key = KeyStore(open_database(Settings(data_dir=data))).create("bench")
        env = {"IMGOPEN_MODELS_DIR": str(root / "models")}
        with ServerProcess(data, env) as server, Client(server.base_url, key.id, key.secret) as client:

            def through_api(request: dict[str, Any]) -> float:
                started = time.perf_counter()
                task = client.call("/sd/v2/text2image", {**request, "id_task": uuid.uuid4().hex})["task_id"]
                while True:
                    answer = client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task, "waitSeconds": 60})
                    if answer["state"] in ("success", "failed", "cancelled"):
                        break
                assert answer["state"] == "success", answer
                return time.perf_counter() - started

            cold = through_api(body)
            through_api(body)
            warm = statistics.median(through_api(body) for _ in range(args.rounds))
            with_lora = {**body, "prompt": body["prompt"] + " <lora:bench-lora:0.6>"}
            through_api(with_lora)
            same_lora = statistics.median(through_api(with_lora) for _ in range(args.rounds))
            switched = statistics.median(
                through_api({**body, "prompt": body["prompt"] + f" <lora:bench-lora:{0.1 + 0.05 * i:.2f}>"})
                for i in range(args.rounds)
            )
            client.call("/sd/v2/unloadModels", {})
            reloaded = through_api(body)
    label = "real-size SD 1.5 (random weights)" if args.real_size else "tiny SD 1.5"
    print(f"{label}, {size}x{size}, {args.steps} steps, median of {args.rounds}:")
    print(f"  API end to end {warm:.3f} s / direct diffusers {direct:.3f} s = {warm / direct:.2f} (goal <= 1.10)")
    print(
        f"  other LoRA weight {switched:.3f} s / same LoRA weight {same_lora:.3f} s = {switched / same_lora:.2f} "
        "(goal <= 1.2)"
    )
    print(f"  warm {warm:.3f} s / cold {cold:.3f} s (first request) and {reloaded:.3f} s (after unloadModels)")
    print(f"  iterations/s: API {args.steps / warm:.2f}, plain diffusers loop {direct_its:.2f}")
    print(json.dumps({"ratio_api_direct": warm / direct, "ratio_lora_switch": switched / same_lora}), file=sys.stderr)


if __name__ == "__main__":
    main()
