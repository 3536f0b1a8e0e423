"""HMAC signatures with an expiry for output URLs."""

from __future__ import annotations

import hashlib
import hmac
import time


class UrlSigner:
    def __init__(self, secret: str, expiry_seconds: int) -> None:
        self._secret = secret.encode()
        self._expiry = expiry_seconds

    def _mac(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, key: str) -> str:
        """The query string for key: `exp=<epoch s>&sig=<hex>`."""
        expires = int(time.time()) + self._expiry
        return f"exp={expires}&sig={self._mac(key, expires)}"

    def verify(self, key: str, exp: str | None, sig: str | None) -> bool:
        if not exp or not sig or not exp.isdigit() or int(exp) < time.time():
            return False
        return hmac.compare_digest(self._mac(key, int(exp)), sig)
