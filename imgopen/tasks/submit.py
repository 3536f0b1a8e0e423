"""Submitting a task: idempotency, per-key limits, inputs fetched and stored once, then queued.

Inputs are fetched and fully decoded here, at submit time, so a bad image is refused with a
413 / 422 at once instead of a task failing later; the bytes are kept in storage (`stored:`
references in the params) so a retry after a crash does not depend on the URL still working.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

from imgopen.config import Settings
from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.media.address_policy import AddressPolicy
from imgopen.media.decode import decode_image, format_of
from imgopen.media.inputs import EXTENSIONS, INLINE_LIMIT, ImageInputs, is_inline, stored_ref
from imgopen.metrics import Metrics
from imgopen.schemas.types import iter_images, path_text, set_path
from imgopen.storage.base import Storage
from imgopen.tasks.executor import Executor
from imgopen.tasks.insertion import Insertion
from imgopen.tasks.kinds import TOOL
from imgopen.tasks.store import NewTask, TaskStore

Precheck = Callable[[Mapping[str, tuple[int, int]]], None]


@dataclass
class Submission:
    key_id: str
    kind: str
    tool_code: str
    pool: str
    business_task_id: str
    request: BaseModel
    # Request fields that are about the submission, not the work (businessTaskId, callbackUrl).
    envelope_fields: set[str] = field(default_factory=set)
    callback_url: str | None = None
    task_id: str | None = None
    # Checks that need the input sizes (path text -> (width, height)); raise ImgOpenError("400").
    precheck: Precheck | None = None
    # The checkpoint the task will load: a worker that has it loaded takes the task first.
    affinity: str | None = None
    # Images the task is asked for (the key's images-per-day quota).
    images: int = 1
    # The caller runs the task itself (a synchronous tool, see run_here): it is inserted claimed
    # by the caller where the executor can, and no worker is woken for it (one would race the
    # caller for it, and the caller would then wait for that worker).
    run_by_caller: bool = False


def _digest_long_strings(value: Any) -> Any:
    """Long strings (inline images) replaced by their SHA-256: the canonical JSON stays small."""
    if isinstance(value, str):
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest() if len(value) > 1024 else value
    if isinstance(value, dict):
        return {key: _digest_long_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_digest_long_strings(item) for item in value]
    return value


def body_hash(request: BaseModel) -> str:
    """A digest of the request as validated (so formatting and key order do not matter)."""
    dumped = _digest_long_strings(request.model_dump(mode="json", by_alias=True))
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class RateLimiter:
    """Submits per key in the last minute (per server process)."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: str) -> None:
        if self._per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            window = self._seen.setdefault(key_id, deque())
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self._per_minute:
                raise ImgOpenError("429", f"rate limit reached: {self._per_minute} submits per minute for this key")
            window.append(now)


class TaskSubmitter:
    def __init__(
        self,
        store: TaskStore,
        inputs: ImageInputs,
        storage: Storage,
        executor: Executor,
        policy: AddressPolicy,
        settings: Settings,
        metrics: Metrics,
        expect_callback: Callable[[str], None] = lambda _task_id: None,
    ) -> None:
        self._expect_callback = expect_callback  # told of each new task with a callback URL
        self._store = store
        self._inputs = inputs
        self._storage = storage
        self._executor = executor
        self._policy = policy
        self._settings = settings
        self._metrics = metrics
        self._rate = RateLimiter(settings.rate_limit_per_minute)
        # Work of a submit that overlaps its image decoding (hashing, writing the input).
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imgopen-submit")

    def close(self) -> None:
        self._side.shutdown(wait=True)

    def is_quick(self, sub: Submission) -> bool:
        """Whether the submit needs no network and little CPU (small inline images, no callback to
        resolve): then the API runs it on the event loop instead of handing it to a thread."""
        if sub.callback_url:
            return False
        size = 0
        for _path, value in iter_images(sub.request):
            if not is_inline(value):
                return False
            size += len(value)
        return size <= INLINE_LIMIT

    def submit(self, sub: Submission) -> tuple[Task, bool]:
        """(task, created). The same businessTaskId and body gives the same task, nothing run twice."""
        limit = self._settings.max_active_tasks_per_key
        images = [value for _path, value in iter_images(sub.request)]
        digest: str | Future[str]
        if not all(is_inline(value) for value in images):
            digest = body_hash(sub.request)
            # Before fetching anything: a resubmit is answered without a download, 409 / 429 first.
            existing_id = self._store.check_submit(sub.key_id, sub.business_task_id, digest, limit)
            if existing_id is not None:
                existing = self._store.get(existing_id)
                assert existing is not None
                return existing, False
        elif sum(len(value) for value in images) > INLINE_LIMIT:
            # Hashing a large inline image (SHA-256 releases the GIL) overlaps its decoding.
            digest = self._side.submit(body_hash, sub.request)
        else:
            digest = body_hash(sub.request)
        self._rate.hit(sub.key_id)
        if sub.callback_url:
            self._check_callback(sub.callback_url)
        task_id = sub.task_id or self._store.new_id()
        params = sub.request.model_dump(mode="json", by_alias=True, exclude=sub.envelope_fields)
        reserved: str | None = None
        insertion: Insertion | None = None
        try:
            sizes, stored = self._store_inputs(sub.request, params, task_id, sub.key_id)
            if sub.precheck is not None:
                sub.precheck(sizes)
            # An idle worker of this process takes the task as it is inserted (no claim after); a
            # synchronous tool's caller takes it so, where tasks run in this process.
            reserved = None if sub.run_by_caller else self._executor.reserve(sub.pool)
            owner = self._executor.caller_lease() if sub.run_by_caller else reserved
            new = NewTask(
                kind=sub.kind,
                tool_code=sub.tool_code,
                key_id=sub.key_id,
                business_task_id=sub.business_task_id,
                pool=sub.pool,
                params=params,
                body_hash=digest if isinstance(digest, str) else digest.result(),
                callback_url=sub.callback_url,
                task_id=task_id,
                affinity=sub.affinity,
                images=sub.images,
                stored_bytes=stored,
                lease_owner=owner,
                lease_ms=int(self._settings.lease_seconds * 1000),
            )
            planned = None
            # The reserved worker starts on a tool's task while the row is inserted (see
            # tasks/insertion.py). Tools only: their runs are short, so half a millisecond counts,
            # and keep nothing but their outputs (a training keeps checkpoints). Not under a
            # caller's own task id: a refused insert drops the outputs under the task's id.
            if reserved is not None and sub.kind == TOOL.name and sub.task_id is None:
                planned, insertion = self._store.plan(new), Insertion()
                self._executor.dispatch(planned.task, insertion)
            task, created = self._store.submit(new, max_active=limit, planned=planned)
        except BaseException:
            self._abandon(task_id, reserved, insertion)
            raise
        if not created:  # the task existed (a resubmit, or a concurrent twin won)
            self._abandon(task_id, reserved, insertion)
            return task, False
        if sub.callback_url:
            self._expect_callback(task.id)  # before dispatch: the task may end at once
        if insertion is not None:
            insertion.made()
        elif not sub.run_by_caller:
            self._executor.dispatch(task)
        self._metrics.submitted.labels(sub.kind, sub.tool_code).inc()
        return task, True

    def _abandon(self, task_id: str, reserved: str | None, insertion: Insertion | None) -> None:
        """A submit that made no task: its stored inputs deleted, its reserved worker given back
        (or, handed the task before the insert, told that the insert was refused)."""
        if insertion is not None:
            insertion.refused()
        if reserved is not None:
            self._executor.unreserve(reserved)
        self._storage.delete_prefix(f"inputs/{task_id}")

    def run_here(self, task: Task, created: bool) -> None:
        """Run a task submitted with run_by_caller in this thread: the one this submit `created`,
        inserted claimed by the caller; or (a resubmit) the existing task if it is queued. Where the
        executor cannot (tasks run in other processes, or a worker has it already), it goes to the
        workers as usual."""
        if not self._executor.run_now(task, claimed=created and task.lease_owner is not None):
            self._executor.dispatch(task)

    def _store_inputs(
        self, request: BaseModel, params: dict[str, Any], task_id: str, key_id: str
    ) -> tuple[dict[str, tuple[int, int]], int]:
        """Fetch and check every image input; keep large or fetched ones in storage (the params
        then hold a `stored:` reference), small inline ones stay in the params as they came.
        The sizes of the images by field, and the bytes put in storage."""
        sizes: dict[str, tuple[int, int]] = {}
        stored = 0
        done: dict[str, tuple[str, tuple[int, int]]] = {}
        for path, value in iter_images(request):
            what = path_text(path)
            if value not in done:
                data = self._inputs.read_bytes(value, what, key_id)
                ref: str = value
                if not is_inline(value) or len(value) > INLINE_LIMIT:
                    fmt = format_of(data, what, self._inputs.limits.max_pixels)
                    name = re.sub(r"[^A-Za-z0-9_.-]", "_", what)
                    key = f"inputs/{task_id}/{name}.{EXTENSIONS.get(fmt, 'bin')}"
                    # Written while the image decodes (both outside the GIL); a failed decode
                    # waits for the write, then submit() deletes the task's inputs.
                    written = self._side.submit(self._storage.put, key, data)
                    try:
                        decoded = decode_image(data, what, self._inputs.limits.max_pixels)
                    except BaseException:
                        wait([written])
                        raise
                    ref = stored_ref(written.result())
                    stored += len(data)
                else:
                    decoded = decode_image(data, what, self._inputs.limits.max_pixels)
                self._inputs.hand_over(ref, decoded)
                done[value] = (ref, decoded.image.size)
            ref, size = done[value]
            set_path(params, path, ref)
            sizes[what] = size
        return sizes, stored

    def _check_callback(self, url: str) -> None:
        try:
            parsed = httpx.URL(url)
        except Exception as exc:
            raise ImgOpenError("400", f"callbackUrl: not a valid URL ({exc})") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ImgOpenError("400", "callbackUrl: must be an http or https URL")
        self._policy.resolve(parsed.host, parsed.port or 443, "callbackUrl")
