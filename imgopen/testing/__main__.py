"""`python -m imgopen.testing DIR`: write a complete tiny models folder, to try every endpoint."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(
            "usage: python -m imgopen.testing MODELS_DIR\n\nWrites tiny random-weight models (SD 1.5, SDXL, Flux, "
            "ControlNet, LoRA, VAE, embeddings) in imgopen's models folder layout."
        )
        raise SystemExit(2)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from imgopen.testing.tiny_models import write_models_folder

    started = time.monotonic()
    written = write_models_folder(Path(sys.argv[1]))
    for label, path in written.items():
        print(f"{label:18s} {path}")
    print(f"done in {time.monotonic() - started:.1f} s; start the server with IMGOPEN_MODELS_DIR={sys.argv[1]}")


main()
