"""`imgopen worker`: one process, one device, one or more pools, consuming their Celery queues.

The Celery pool is "threads": the model is loaded once in this process and every thread uses it;
nothing forks, so CUDA is never initialised in a parent that forks. A GPU worker runs one task at a
time (one thread); a CPU worker as many as its threads. Several GPUs: one worker process each,
`--device cuda:0`, `--device cuda:1`...
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from imgopen.cluster.celery_app import make_celery, queue_name
from imgopen.cluster.consumer import WorkerRuntime, register
from imgopen.config import Settings
from imgopen.roles.worker import build_worker

log = logging.getLogger(__name__)


def run_worker(settings: Settings, pools: Sequence[str], name: str | None, concurrency: int | None) -> None:
    from celery import signals

    # One task at a time where a model fills the device, or a training runs (see consumer.py).
    threads = concurrency or (settings.cpu_workers if list(pools) == ["cpu"] else 1)
    if "train" in pools and threads != 1:
        raise ValueError("a worker of the train pool runs one task at a time: --concurrency 1")
    services = build_worker(settings)
    app = make_celery(settings)
    device = str(services.engine.placement.device)
    name = name or f"{'-'.join(pools)}-{socket.gethostname()}-{device.replace(':', '')}"
    hostname = f"{name}@{socket.gethostname()}"
    runtime = WorkerRuntime(services, app, pools, name, device, hostname)
    register(app, runtime)

    def on_shutdown(**_kwargs: Any) -> None:
        runtime.shutting_down()

    signals.worker_shutting_down.connect(on_shutdown, weak=False)
    services.catalog.start()
    runtime.start()
    log.info("worker %s: pools %s on %s, %d thread(s)", name, ",".join(pools), device, threads)
    try:
        worker = app.Worker(
            hostname=hostname,
            queues=[queue_name(app, pool) for pool in pools],
            pool="threads",
            concurrency=threads,
            loglevel=settings.log_level.upper(),
            without_mingle=True,
            without_gossip=True,
            optimization="fair",
        )
        worker.start()
    finally:
        runtime.stop()
        services.catalog.stop()
        services.db.dispose()
