"""What a process that runs models sets in its environment before torch is imported (torch reads
some of it once, at its first allocation)."""

from __future__ import annotations

import os


def prepare_model_process() -> None:
    """Called first by `imgopen serve` and `imgopen worker`; a variable the operator set wins."""
    # Model code must find weights on disk only; a hub download would hang or fail here.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Transparent huge pages for torch's large CPU tensors (madvise, 2 MB pages): a VAE decode or a
    # UNet step allocates and frees hundreds of megabytes each time, and on a virtual machine the
    # page faults of 4 kB pages cost seconds per image at 512x512 (SD 1.5 VAE decode 7.7 -> 6.1 s,
    # bench/real_size.py). No effect on a GPU's memory.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
