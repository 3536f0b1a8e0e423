from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The tiny diffusion models gain nothing from a second thread, and on a busy 2-core machine
    OpenMP's waiting threads made an InstantID run 10 to 20 times slower (0.6 s against 7 to
    25 s); the setting is restored for other tests."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
