"""LoRA training speed: steps per second of a training task (through the API, on a server process)
against a bare peft loop on the same model, data, batch size and LoRA (goal: ratio >= 0.9).

The task's speed is the one it reports for its training loop (model loading and dataset fetching
excluded, as they are from the bare loop). Tiny SD 1.5 by default; `--real-size` uses a random-weight
SD 1.5 of the real architecture at 512 px (for a machine with a GPU).

Usage: python bench/training.py [--steps 40] [--real-size]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def images(size: int) -> list[Any]:
    import numpy as np
    from PIL import Image

    out = []
    for seed in range(8):
        pixels = np.zeros((size, size, 3), np.uint8)
        pixels[...] = (230, 20, 200)
        pixels[:, :: max(1, size // 8)] = (20, 220, 40)
        noise = np.random.default_rng(seed).integers(-8, 9, pixels.shape)
        out.append(Image.fromarray(np.clip(pixels.astype(int) + noise, 0, 255).astype(np.uint8)))
    return out


def bare_loop(folder: Path, pictures: list[Any], steps: int, batch: int, rank: int) -> float:
    """Steps per second of the plainest peft LoRA loop: cached latents and text, AdamW."""
    import numpy as np
    import torch
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig

    from imgopen.engine.device import choose_placement
    from imgopen.training.trainer import UNET_TARGETS

    placement = choose_placement()
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=placement.dtype, local_files_only=True)
    pipe.to(placement.device)
    unet, vae, text, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for module in (unet, vae, text):
        module.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=UNET_TARGETS))
    parameters = [p for p in unet.parameters() if p.requires_grad]
    for parameter in parameters:
        parameter.data = parameter.data.float()
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    with torch.no_grad():
        ids = tokenizer(["zxq"], padding="max_length", max_length=77, return_tensors="pt").input_ids.to(
            placement.device
        )
        encoded = text(ids)[0].repeat(batch, 1, 1)
        pixels = torch.stack(
            [torch.from_numpy(np.asarray(p, np.float32) / 127.5 - 1).permute(2, 0, 1) for p in pictures]
        ).to(placement.device, vae.dtype)
        latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
    started = None
    for step in range(steps + 3):
        if step == 3:  # the first steps warm up
            started = time.perf_counter()
        batch_latents = latents[(step * batch) % len(pictures) :][:batch].float()
        noise = torch.randn_like(batch_latents)
        timesteps = torch.randint(
            0, scheduler.config.num_train_timesteps, (batch_latents.shape[0],), device=placement.device
        )
        noisy = scheduler.add_noise(batch_latents, noise, timesteps)
        prediction = unet(noisy.to(unet.dtype), timesteps, encoded[: batch_latents.shape[0]].to(unet.dtype)).sample
        loss = torch.nn.functional.mse_loss(prediction.float(), noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    assert started is not None
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--real-size", action="store_true")
    args = parser.parse_args()
    from bench.generation import build_models
    from imgopen.accounts.keys import KeyStore
    from imgopen.client import Client
    from imgopen.config import Settings
    from imgopen.db.engine import open_database
    from imgopen.testing.images import data_uri, encode
    from imgopen.testing.server import ServerProcess

    size = 512 if args.real_size else 64
    batch, rank = 2, 8
    pictures = images(size)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = build_models(root / "models", args.real_size)
        bare = bare_loop(folder, pictures, args.steps, batch, rank)
        key = KeyStore(open_database(Settings(data_dir=root / "data"))).create("bench")
        body = {
            "taskId": "bench",
            "fileUrlList": [data_uri(encode(p)) for p in pictures],
            "pretrainedModel": "bench-sd15",
            # Epochs of 20 steps, as typical trainings have (a checkpoint is written after each).
            "maxEpochs": max(1, args.steps // 20),
            "batchSize": batch,
            "repeats": 5,
            "resolution": size,
            "networkDim": rank,
            "networkAlpha": rank,
            "minBucketReso": size,
            "maxBucketReso": size,
            "mixedPrecision": "fp16" if args.real_size else "no",
            "lrScheduler": "constant",
            "triggerWord": "zxq",
        }
        env = {"IMGOPEN_MODELS_DIR": str(root / "models")}
        with ServerProcess(root / "data", env) as server, Client(server.base_url, key.id, key.secret) as client:
            client.call("/modelTraining/submitTraining/Job", body)
            while True:
                view = client.call("/modelTraining/queryTraining/Job", {"taskId": "bench", "waitSeconds": 60})
                if view["state"] in ("success", "failed", "cancelled"):
                    break
            assert view["state"] == "success", view
    task = view["stepsPerSecond"]
    label = "real-size SD 1.5 (random weights)" if args.real_size else "tiny SD 1.5"
    print(f"{label}, {size}x{size}, batch {batch}, LoRA rank {rank}, {view['steps']} steps:")
    print(f"  training task {task:.3f} steps/s / bare peft loop {bare:.3f} steps/s = {task / bare:.2f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
