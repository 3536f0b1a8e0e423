"""Callback deliveries: persisted rows (queued with the task's final state, in the same
transaction), POSTed with a signature, retried on the ladder of API.md section 1."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from imgopen.accounts.keys import KeyStore
from imgopen.clock import now_ms
from imgopen.db.engine import Database, rowcount
from imgopen.db.tables import CallbackDelivery, Task
from imgopen.errors import ImgOpenError
from imgopen.media.fetch import Fetcher
from imgopen.metrics import Metrics
from imgopen.tasks.periodic import Periodic

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-ImgOpen-Timestamp"
SIGNATURE_HEADER = "X-ImgOpen-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "timestamp.body">`, keyed by the access key's callback secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def acknowledged(answer: bytes) -> bool:
    """The receiver must answer JSON {"code": "200"}."""
    try:
        parsed = json.loads(answer)
    except ValueError:
        return False
    return isinstance(parsed, dict) and str(parsed.get("code")) == "200"


class CallbackDispatcher:
    def __init__(
        self,
        db: Database,
        keys: KeyStore,
        fetcher: Fetcher,
        render: Callable[[Task], dict[str, Any]],
        delays: list[float],
        timeout: float,
        metrics: Metrics,
        batch: int = 20,
    ) -> None:
        self._db = db
        self._keys = keys
        self._fetcher = fetcher
        self._render = render
        self._delays = delays
        self._timeout = timeout
        self._metrics = metrics
        self._batch = batch
        self._thread = Periodic("imgopen-callbacks", 0.5, self.deliver_due)
        self._expected: set[str] = set()
        self._expected_lock = threading.Lock()

    @property
    def max_attempts(self) -> int:
        return len(self._delays) + 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def wake(self) -> None:
        self._thread.wake()

    def expect(self, task_id: str) -> None:
        """A task with a callback URL was submitted here: its end wakes the dispatcher at once."""
        with self._expected_lock:
            if len(self._expected) > 100_000:  # ends announced elsewhere (a cluster's workers) never pop
                self._expected.clear()
            self._expected.add(task_id)

    def finished(self, task_id: str) -> None:
        """A task ended. Only one with a callback wakes the dispatcher: a wake-up costs a thread
        switch and a database query, which every quick task paid before; the others' callbacks
        (none expected here, e.g. after a restart) go with the next 0.5 s round."""
        with self._expected_lock:
            if task_id not in self._expected:
                return
            self._expected.discard(task_id)
        self.wake()

    def deliver_due(self) -> None:
        now = now_ms()
        with self._db.read() as session:
            due = session.execute(
                select(CallbackDelivery.id, CallbackDelivery.next_attempt_at)
                .where(CallbackDelivery.state == "pending", CallbackDelivery.next_attempt_at <= now)
                .order_by(CallbackDelivery.next_attempt_at)
                .limit(self._batch)
            ).all()
        for delivery_id, planned in due:
            if self._claim(delivery_id, planned):
                self._attempt(delivery_id)

    def _claim(self, delivery_id: int, planned: int) -> bool:
        """Push the next attempt time past this attempt, so no other dispatcher sends it meanwhile."""
        with self._db.transaction() as session:
            claimed = session.execute(
                update(CallbackDelivery)
                .where(CallbackDelivery.id == delivery_id, CallbackDelivery.next_attempt_at == planned)
                .values(next_attempt_at=now_ms() + int((self._timeout + 30) * 1000))
                .execution_options(synchronize_session=False)
            )
            return rowcount(claimed) == 1

    def _attempt(self, delivery_id: int) -> None:
        with self._db.read() as session:
            delivery = session.get(CallbackDelivery, delivery_id)
            task = session.scalar(select(Task).where(Task.id == delivery.task_id)) if delivery else None
        if delivery is None or task is None:
            return
        error: str | None = None
        try:
            body = json.dumps(self._render(task), ensure_ascii=False, separators=(",", ":")).encode()
            timestamp = str(int(time.time()))
            secret = self._keys.callback_secret(delivery.key_id) or ""
            status, answer = self._fetcher.post(
                delivery.url,
                body,
                {
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: sign(secret, timestamp, body),
                },
                self._timeout,
                "callbackUrl",
            )
            if not acknowledged(answer):
                error = f'HTTP {status}, answer {answer[:200]!r} is not {{"code": "200"}}'
        except ImgOpenError as exc:
            error = exc.msg
        except Exception as exc:  # the receiver's problems must not stop the dispatcher
            error = f"{type(exc).__name__}: {exc}"
        self._record(delivery, error)

    def _record(self, delivery: CallbackDelivery, error: str | None) -> None:
        attempts = delivery.attempts + 1
        now = now_ms()
        values: dict[str, Any] = {"attempts": attempts, "updated_at": now, "last_error": error}
        if error is None:
            values["state"] = "delivered"
            self._metrics.callbacks.labels("delivered").inc()
        elif attempts >= self.max_attempts:
            values["state"] = "failed"
            self._metrics.callbacks.labels("gave_up").inc()
            log.warning("callback for task %s: giving up after %d attempts: %s", delivery.task_id, attempts, error)
        else:
            values["next_attempt_at"] = now + int(self._delays[attempts - 1] * 1000)
            self._metrics.callbacks.labels("retry").inc()
            log.info("callback for task %s failed (attempt %d): %s", delivery.task_id, attempts, error)
        with self._db.transaction() as session:
            session.execute(
                update(CallbackDelivery)
                .where(CallbackDelivery.id == delivery.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
