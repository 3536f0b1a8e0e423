"""The key store. Secrets are random 256-bit strings, so a salted SHA-256 is a sound way to keep them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from imgopen.clock import now_ms
from imgopen.db.engine import Database
from imgopen.db.tables import ApiKey


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    disabled: bool
    created_at: int


@dataclass(frozen=True)
class CreatedKey:
    id: str
    name: str
    secret: str
    callback_secret: str


class KeyAuthError(Exception):
    """Verification failed: `code` is "401" (unknown or wrong) or "403" (disabled)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class KeyStore:
    """Keys in the database, with a short in-memory cache of verifications.

    The cache keeps the submit path off the database; a key disabled from the CLI (another
    process) stops working within `cache_seconds`.
    """

    def __init__(self, db: Database, cache_seconds: float = 5.0) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, KeyInfo]] = {}
        self._lock = threading.Lock()

    def create(self, name: str) -> CreatedKey:
        key_id = "ak" + secrets.token_hex(10)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        callback_secret = secrets.token_urlsafe(32)
        with self._db.transaction() as session:
            session.add(
                ApiKey(
                    id=key_id,
                    name=name,
                    secret_salt=salt,
                    secret_hash=_hash(salt, secret),
                    callback_secret=callback_secret,
                    disabled=False,
                    created_at=now_ms(),
                )
            )
        return CreatedKey(id=key_id, name=name, secret=secret, callback_secret=callback_secret)

    def list(self) -> list[KeyInfo]:
        with self._db.read() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
            return [KeyInfo(r.id, r.name, r.disabled, r.created_at) for r in rows]

    def count(self) -> int:
        return len(self.list())

    def set_disabled(self, key_id: str, disabled: bool) -> bool:
        """Disable or enable a key; False when there is no such key."""
        with self._db.transaction() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                return False
            row.disabled = disabled
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != key_id}
        return True

    def get(self, key_id: str) -> KeyInfo | None:
        """The key by id (no secret check: for identities the operator configured)."""
        with self._db.read() as session:
            row = session.get(ApiKey, key_id)
            return KeyInfo(row.id, row.name, row.disabled, row.created_at) if row else None

    def callback_secret(self, key_id: str) -> str | None:
        with self._db.read() as session:
            row = session.get(ApiKey, key_id)
            return row.callback_secret if row else None

    def verify_cached(self, key_id: str | None, secret: str | None) -> KeyInfo | None:
        """verify() when it needs no database (credentials missing, or verified recently); None
        otherwise. Lets the HTTP layer answer from its event loop without a thread hop."""
        if key_id and secret:
            with self._lock:
                hit = self._cache.get((key_id, secret))
            if hit is None or time.monotonic() - hit[0] >= self._cache_seconds:
                return None
        return self.verify(key_id, secret)

    def verify(self, key_id: str | None, secret: str | None) -> KeyInfo:
        """The key for these credentials, or KeyAuthError with "401" / "403"."""
        if not key_id or not secret:
            raise KeyAuthError(
                "401", "missing access key: send X-Request-req-accessKeyId and X-Request-req-accessKeySecret"
            )
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((key_id, secret))
        if hit is not None and now - hit[0] < self._cache_seconds:
            info = hit[1]
        else:
            info = self._verify_in_db(key_id, secret)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[(key_id, secret)] = (now, info)
        if info.disabled:
            raise KeyAuthError("403", f"access key {key_id} is disabled")
        return info

    def _verify_in_db(self, key_id: str, secret: str) -> KeyInfo:
        with self._db.read() as session:
            row = session.get(ApiKey, key_id)
            if row is None or not hmac.compare_digest(row.secret_hash, _hash(row.secret_salt, secret)):
                raise KeyAuthError("401", "wrong access key id or secret")
            return KeyInfo(row.id, row.name, row.disabled, row.created_at)
