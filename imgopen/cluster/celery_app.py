"""The Celery application both sides share, and the settings that matter for long GPU tasks.

A message says only "a task of pool P is queued" (with the row's id, for the log). The worker that
receives it claims the best queued row of its pools for itself (the one whose checkpoint it has
loaded first), with a conditional update; a message for which no row is left (another worker took
it, it was cancelled, or it is a duplicate delivery) is dropped. Each queued row has at least one
message: the API publishes after the row is committed, and republishes rows that wait too long.
"""

from __future__ import annotations

from typing import Any

from imgopen.config import Settings

RUN_TASK = "imgopen.run"


def queue_name(app: Any, pool: str) -> str:
    return f"{app.conf.imgopen_cluster}.{pool}"


def publish(app: Any, pool: str, task_id: str) -> None:
    """Tell the workers of `pool` that a task waits (after its row is committed)."""
    name = queue_name(app, pool)
    app.send_task(RUN_TASK, args=[task_id], queue=name, routing_key=name)


def make_celery(settings: Settings) -> Any:
    from celery import Celery
    from kombu.entity import Exchange, Queue

    from imgopen.tasks.executor import POOLS

    app = Celery("imgopen", broker=settings.broker_url, set_as_current=False)
    names = [f"{settings.cluster_name}.{pool}" for pool in POOLS]
    app.conf.update(
        imgopen_cluster=settings.cluster_name,
        # The task row holds state, progress and results; Celery stores nothing.
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        # Late acknowledgement: a delivery is acknowledged when the worker has claimed a row for it
        # (cluster/consumer.py), never on receipt, so a worker that dies before claiming leaves the
        # message to another. After the claim, the row's lease and the API's reaper guard the task:
        # a training of hours holds no unacknowledged delivery that RabbitMQ's consumer_timeout or
        # Redis' visibility_timeout would deliver again.
        task_acks_late=True,
        # A worker lost mid-delivery (killed before its claim) puts the message back.
        task_reject_on_worker_lost=True,
        # One reserved message per worker thread: a busy GPU worker does not hold tasks that an idle
        # one could run.
        worker_prefetch_multiplier=1,
        # The model stays loaded in the worker process: never recycle it after N tasks.
        worker_max_tasks_per_child=None,
        # A lost broker connection must not cancel a running task: its row is claimed and leased.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.redis_visibility_timeout_seconds},
        task_queues=[
            Queue(name, Exchange(name), routing_key=name)  # type: ignore[no-untyped-call]
            for name in names
        ],
        task_default_queue=f"{settings.cluster_name}.cpu",
    )
    return app
