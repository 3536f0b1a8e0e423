"""The optimizers training accepts (kohya's names), and which of them this machine can run. Light:
the API checks at submit; the trainer builds them (optimizers.py)."""

from __future__ import annotations

import importlib.util

from imgopen.errors import ImgOpenError

OPTIMIZERS = ("AdamW", "AdamW8bit", "Lion", "Prodigy", "SGD", "Adafactor")


def check_available(name: str, on_cuda: bool | None) -> None:
    """Optimizers that cannot run here answer "400". `on_cuda` None: the device is not known in this
    process (the API role); the worker checks again with its own."""
    if name == "AdamW8bit" and (on_cuda is False or importlib.util.find_spec("bitsandbytes") is None):
        raise ImgOpenError("400", "optimizerType: AdamW8bit needs bitsandbytes and a CUDA GPU; use AdamW")
    if name == "Prodigy" and importlib.util.find_spec("prodigyopt") is None:
        raise ImgOpenError("400", "optimizerType: Prodigy needs the prodigyopt package; use AdamW or Lion")
