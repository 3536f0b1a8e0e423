"""Seconds per image at real size, in one run: imgopen's engine against plain diffusers on the same
machine and the same model files (random weights of the published shapes, built once and cached:
imgopen.testing.real_size).

- plain: `StableDiffusionPipeline` / `StableDiffusionXLPipeline` from the model's diffusers folder, as
  a user would write it: fp16 with SDPA on a GPU, fp32 on a CPU, Euler, nothing else; in a process of
  its own with torch's defaults (imgopen's processes set THP_MEM_ALLOC_ENABLE: imgopen/process_env.py).
- imgopen: DiffusionEngine.generate on the same folder with this machine's defaults
  (IMGOPEN_COMPILE=auto, IMGOPEN_DTYPE=auto): the fast path, the result saved as a PNG.
- on a CPU also imgopen with IMGOPEN_DTYPE=bf16 (opt-in; where the CPU computes bf16 natively).
- where the fast path compiles (a GPU; or --compile max): a LoRA weight and file change on the compiled
  model over a warm request (goal <= 1.1) and the compilations it caused (goal 0).

Each figure is the median of --rounds runs after one warm-up run (compilation happens there).
Ratios are plain / imgopen: above 1, imgopen is faster. Goals on a GPU: SD 1.5 >= 1.8, SDXL >= 1.4.
On a CPU: SD 1.5 faster than plain.

Usage: python bench/real_size.py [--models sd15,sdxl] [--steps N] [--rounds N] [--compile auto|max|off]
Defaults: a GPU: sd15,sdxl, 20 steps, 3 rounds; a CPU: sd15, 4 steps, 2 rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imgopen.process_env import prepare_model_process

prepare_model_process()  # as `imgopen serve` and `imgopen worker` do, before torch is imported

SIZES = {"sd15": 512, "sdxl": 1024}


def timed(call: Callable[[], object], rounds: int) -> float:
    call()  # warm-up: first-use costs and compilation
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plain_seconds(folder: Path, kind: str, steps: int, rounds: int) -> float:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

    cuda = torch.cuda.is_available()
    cls = StableDiffusionXLPipeline if kind == "sdxl" else StableDiffusionPipeline
    pipe = cls.from_pretrained(str(folder), dtype=torch.float16 if cuda else torch.float32)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.to("cuda" if cuda else "cpu")
    pipe.set_progress_bar_config(disable=True)
    size = SIZES[kind]

    def call() -> None:
        pipe(
            "a red cat on a sofa",
            negative_prompt="blurry",
            num_inference_steps=steps,
            width=size,
            height=size,
            guidance_scale=7.0,
            generator=torch.Generator("cpu").manual_seed(7),
        )
        if cuda:
            torch.cuda.synchronize()

    return timed(call, rounds)


def plain_in_child(folder: Path, kind: str, steps: int, rounds: int) -> float:
    """plain_seconds in a process of its own with torch's defaults, as a user's script runs (no
    process settings of imgopen's, such as huge pages for tensors)."""
    env = {name: value for name, value in os.environ.items() if name != "THP_MEM_ALLOC_ENABLE"}
    command = [sys.executable, __file__, "--plain-only", str(folder), "--models", kind]
    done = subprocess.run(
        [*command, "--steps", str(steps), "--rounds", str(rounds)], env=env, check=True, capture_output=True, text=True
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["plain"])


def engine_for(root: Path, models: Path, **settings: Any) -> Any:
    from imgopen.catalog.catalog import ModelCatalog
    from imgopen.config import Settings
    from imgopen.db.engine import open_database
    from imgopen.engine.service import DiffusionEngine

    config = Settings(data_dir=root, models_dir=models, database_url="sqlite://", **settings)
    return DiffusionEngine(ModelCatalog(models.resolve(), open_database(config), 0), config)


def engine_call(
    engine: Any, kind: str, name: str, steps: int, prompt: str = "a red cat on a sofa"
) -> Callable[[], None]:
    import torch

    from imgopen.engine.params import Text2ImageParams
    from imgopen.testing.direct import direct_context

    size = SIZES[kind]

    def call(prompt: str = prompt) -> None:
        params = Text2ImageParams.model_validate(
            {
                "prompt": prompt,
                "negative_prompt": "blurry",
                "batch_size": 1,
                "steps": steps,
                "width": size,
                "height": size,
                "cfg_scale": 7.0,
                "seed": 7,
                "sampler_name": "Euler",
                "sd_model_checkpoint": name,
            }
        )
        engine.generate(params, direct_context(engine.settings))
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    return call


def lora_change(engine: Any, kind: str, name: str, steps: int, rounds: int, models: Path) -> dict[str, float]:
    """A warm request with a LoRA over the same request with another LoRA weight or file, on the
    compiled model; and the compilations those changes caused."""
    from imgopen.engine.fast_path import COMPILATIONS
    from imgopen.testing import tiny_models

    with engine.checkpoint(engine.catalog.require("checkpoint", name, "")) as loaded:
        unet = loaded.pipe.unet
        for index in (1, 2):
            # Made on a copy of the adapter-free UNet config: the loaded one keeps no adapter from this.
            state = tiny_models.random_unet_lora(_fresh_unet(unet), seed=index, rank=16, strength=0.01)
            version = "sdxl_base_v1-0" if kind == "sdxl" else "sd_v1"
            tiny_models.save_kohya_lora(state, models / "loras" / f"bench-lora-{index}.safetensors", version, {})
    call = engine_call(engine, kind, name, steps)
    call("a red cat <lora:bench-lora-1:0.6>")
    warm = timed(lambda: call("a red cat <lora:bench-lora-1:0.6>"), rounds)
    before = COMPILATIONS.count
    weights = iter([0.3, 0.45, 0.7, 0.2, 0.5, 0.35, 0.65, 0.25])
    files = iter([2, 1, 2, 1, 2, 1, 2, 1])
    weight_change = timed(lambda: call(f"a red cat <lora:bench-lora-1:{next(weights):.2f}>"), rounds)
    file_change = timed(lambda: call(f"a red cat <lora:bench-lora-{next(files)}:0.6>"), rounds)
    return {
        "warm": warm,
        "weight_change": weight_change,
        "file_change": file_change,
        "recompilations": float(COMPILATIONS.count - before),
    }


def _fresh_unet(unet: Any) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_config(unet.config)


def main() -> None:
    import torch

    from imgopen.engine.device import cpu_has_native_bf16
    from imgopen.testing.real_size import models_folder, real_size_model

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="sd15,sdxl" if cuda else "sd15")
    parser.add_argument("--steps", type=int, default=20 if cuda else 4)
    parser.add_argument("--rounds", type=int, default=3 if cuda else 2)
    parser.add_argument("--compile", default="auto", choices=["off", "auto", "max"])
    parser.add_argument("--cache", type=Path, default=None, help="where the built models stay (default: see real_size)")
    parser.add_argument("--plain-only", type=Path, default=None, help=argparse.SUPPRESS)  # the child of plain_in_child
    args = parser.parse_args()
    if args.plain_only is not None:
        print(json.dumps({"plain": plain_seconds(args.plain_only, args.models, args.steps, args.rounds)}))
        return
    kinds = [kind.strip() for kind in args.models.split(",") if kind.strip()]
    device = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"{device}; {args.steps} steps, median of {args.rounds} after a warm-up; ratios: plain / imgopen")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind in kinds:
            model = real_size_model(kind, args.cache, log=lambda line: print("  " + line, flush=True))
            models = models_folder(root / f"models-{kind}", [model], layout="folder")
            name = model.name
            size = SIZES[kind]
            plain = plain_in_child(model.folder, kind, args.steps, args.rounds)
            engine = engine_for(root / f"data-{kind}", models, compile=args.compile)
            plan = engine.speed_plan(engine.catalog.require("checkpoint", name, ""))
            fast = timed(engine_call(engine, kind, name, args.steps), args.rounds)
            dtype = str(engine.placement.dtype).removeprefix("torch.")
            print(f"{kind} {size}x{size}: plain {plain:.2f} s/image; imgopen ({dtype}, {plan.describe()}) {fast:.2f}")
            print(f"  ratio {plain / fast:.2f}" + ("  (goal >= 1.8)" if cuda and kind == "sd15" else ""))
            entry: dict[str, Any] = {"plain": plain, "imgopen": fast, "ratio": plain / fast, "plan": plan.describe()}
            if plan.compile_denoiser:
                change = lora_change(engine, kind, name, args.steps, args.rounds, models)
                print(
                    f"  LoRA on the compiled model: weight change {change['weight_change'] / change['warm']:.2f}x, "
                    f"file change {change['file_change'] / change['warm']:.2f}x a warm request (goal <= 1.1); "
                    f"recompilations {change['recompilations']:.0f} (goal 0)"
                )
                entry["lora"] = change
            del engine
            if not cuda and cpu_has_native_bf16():
                bf16 = engine_for(root / f"data-{kind}-bf16", models, compile=args.compile, dtype="bf16")
                plan16 = bf16.speed_plan(bf16.catalog.require("checkpoint", name, ""))
                seconds = timed(engine_call(bf16, kind, name, args.steps), args.rounds)
                print(
                    f"  imgopen IMGOPEN_DTYPE=bf16 ({plan16.describe()}) {seconds:.2f} s/image: "
                    f"ratio {plain / seconds:.2f}"
                )
                entry["imgopen_bf16"] = seconds
                del bf16
            report[kind] = entry
    print(json.dumps(report), file=sys.stderr)


if __name__ == "__main__":
    main()
