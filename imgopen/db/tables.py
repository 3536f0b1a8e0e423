"""The ORM tables. Times are epoch milliseconds (BigInteger): portable across SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """An access key. The secret is stored as a salted SHA-256 (secrets are random, 256-bit)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(128))
    # Signs callbacks; the receiver needs it in clear, so it is kept in clear (it grants no access).
    callback_secret: Mapped[str] = mapped_column(String(128))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Quotas (None: unlimited); "per day" is the UTC day. Counted in key_usage.
    quota_tasks_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    quota_images_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    quota_storage_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    # Bytes of this key's inputs and outputs in storage now (less what retention deleted).
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class KeyUsage(Base):
    """What a key submitted on one UTC day: the quota counters, shared by every API process."""

    __tablename__ = "key_usage"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # "2026-12-04"
    tasks: Mapped[int] = mapped_column(Integer)
    images: Mapped[int] = mapped_column(Integer)


class Task(Base):
    """One unit of work of any kind: generation, a tool, a training."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("key_id", "business_task_id", name="uq_tasks_key_business"),
        Index("ix_tasks_queue", "state", "pool", "priority", "seq"),
        Index("ix_tasks_lease", "state", "lease_expires_at"),
        Index("ix_tasks_key_state", "key_id", "state"),
        Index("ix_tasks_retention", "files_expired_at", "finished_at"),
    )

    # Monotonic order of submission: queue order and queue position.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "sd" | "tool" | "training"
    tool_code: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    business_task_id: Mapped[str] = mapped_column(String(128))
    pool: Mapped[str] = mapped_column(String(8))  # "gpu" | "cpu"
    priority: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_hash: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)

    state: Mapped[str] = mapped_column(String(16))  # queued | running | success | failed | cancelled
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # Live details while running (step, total steps, preview URL...), free-form per kind.
    progress_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    error_msg: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Skips asked for (A1111's skip: end the current image, go on with the next); a counter, so
    # that each request is seen once by the running task.
    skip_requested: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The checkpoint the task wants (SD, Flux): a worker that has it loaded claims the task first.
    affinity: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # Images the task was asked for (its share of the key's images-per-day quota).
    images: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bytes its inputs and outputs take in storage; zeroed when retention deletes them.
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    files_expired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Worker(Base):
    """A worker process of a cluster: what it serves, what it has loaded, what it runs now. Written by
    the worker's heartbeat; read by the dispatcher (affinity), `imgopen workers`, /readyz, /metrics."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    pools: Mapped[list[str]] = mapped_column(JSON)
    device: Mapped[str] = mapped_column(String(64))
    # {"checkpoints": [...], "loras": [...]}: catalog names of what is in the model cache.
    loaded: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_tasks: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[int] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int] = mapped_column(BigInteger)
    # Set by unloadModels: the worker drops its cached models at its next heartbeat.
    unload_requested_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class A1111Options(Base):
    """What a key set through the Automatic1111 API's POST /sdapi/v1/options (its model, VAE, clip
    skip...): per key, so that one user switching the model does not switch it for another."""

    __tablename__ = "a1111_options"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class CallbackDelivery(Base):
    """A pending or finished callback POST: persisted so deliveries survive a restart."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_callbacks_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ModelFile(Base):
    """What the catalog learned about a model file or folder: kept so a rescan of an unchanged
    file (same size and modification time) neither rereads nor rehashes it."""

    __tablename__ = "model_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detection: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)
