"""Peak memory of super resolution: a square photograph enlarged x4 with a bundled network, which runs
in tiles. What lies beyond the output image should depend on the tile size, not on the image size,
so the run is made at two sizes (1024 and 2048 px by default) and the overheads compared.

Rows:
- "one tile": the network on a single tile with its context (the reference: what one tile costs;
  its "output" is the tile's float result).
- "tiles": upscale_tiled() alone, the output as one uint8 array (w x h x 3 bytes): its overhead
  beyond that array is the tiles' working set (a tile's input, the network's activations, its
  output as floats) plus whatever the allocator keeps.
- "service": Upscalers.upscale(), as superResolution calls it: the array also becomes a PIL image
  (4 bytes a pixel), so for a moment both exist; "output" counts both.

Each measurement runs in a fresh process: a process's peak RSS (getrusage's ru_maxrss) only grows,
so only a fresh one shows the peak of one call. A background thread also samples the RSS.

Usage: python bench/upscale_memory.py [--sizes 1024 2048] [--model realesr-animevideov3-x4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIB = 1024 * 1024


def rss() -> int:
    """Resident bytes of this process now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class Sampler(threading.Thread):
    """The highest RSS seen every few milliseconds (a second opinion on ru_maxrss)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.highest = rss()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.highest = max(self.highest, rss())


def measure(size: int, model: str, how: str) -> dict[str, Any]:
    """One run in this process; the figures as a dict (printed as JSON for the parent)."""
    import numpy as np
    from PIL import Image

    from imgopen.testing.images import astronaut
    from imgopen.vision.upscale.service import Upscalers
    from imgopen.vision.upscale.tiles import upscale_tiled

    upscalers = Upscalers(Path(tempfile.mkdtemp()))
    upscalers.upscale(astronaut().resize((64, 64)), 4, model)  # loads the network outside the measurement
    network = upscalers._choose(model)[4].load()
    image = astronaut().resize((size, size), Image.Resampling.BICUBIC)
    rgb = np.asarray(image)
    before, peak_before = rss(), peak_rss()
    sampler = Sampler()
    sampler.start()
    started = time.perf_counter()
    if how == "one tile":
        side = min(size, network.tile + 2 * network.pad)
        chw = np.ascontiguousarray(rgb[:side, :side].transpose(2, 0, 1), np.float32) / np.float32(255)
        out: Any = network.run(chw)
        shape = (out.shape[1], out.shape[2], 3)
    elif how == "tiles":
        out = upscale_tiled(rgb, network.scale, network.run, network.tile, network.pad)
        shape = out.shape
    else:
        out, _method = upscalers.upscale(image, 4, model)
        shape = (out.height, out.width, 3)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    peak = max(peak_rss(), sampler.highest)
    return {
        "size": size,
        "how": how,
        "seconds": seconds,
        "tile": network.tile,
        "pad": network.pad,
        "output_shape": list(shape),
        "output_bytes": int(np.prod(shape)),
        "growth": max(0, peak - before),
        "ru_maxrss_grew": peak_rss() > peak_before,
        "baseline": before,
    }


def child(size: int, model: str, how: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(size), how, "--model", model]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=int, default=[1024, 2048])
    parser.add_argument("--model", default="realesr-animevideov3-x4")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "HOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), args.model, args.child[1])))
        return
    print(f"{args.model} x4; peak RSS growth during the call, over the RSS before it (MiB)")
    header = f"{'input':>11} {'output':>11} {'how':>8} {'tile':>9} {'seconds':>8} {'peak':>7} {'output':>7}"
    print(f"{header} {'overhead':>9}")
    runs = [(max(args.sizes), "one tile")] + [(size, how) for size in args.sizes for how in ("tiles", "service")]
    for size, how in runs:
        row = child(size, args.model, how)
        height, width, _ = row["output_shape"]
        # The output as numpy (3 bytes a pixel; float32, 12, for one tile); the service also holds
        # it as a PIL image (4 bytes a pixel).
        output = row["output_bytes"] * {"one tile": 4, "tiles": 1, "service": 7 / 3}[how]
        source = f"{width // 4}x{height // 4}"
        tile = f"{row['tile']}+2x{row['pad']}"
        print(
            f"{source:>11} {f'{width}x{height}':>11} {how:>8} {tile:>9} {row['seconds']:8.1f} "
            f"{row['growth'] / MIB:7.0f} {output / MIB:7.0f} {(row['growth'] - output) / MIB:9.0f}"
        )


if __name__ == "__main__":
    main()
