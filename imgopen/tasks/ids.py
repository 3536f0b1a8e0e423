"""Server-made task ids: a prefix, epoch milliseconds and random digits (API.md section 1)."""

from __future__ import annotations

import secrets
import time


def new_task_id(prefix: str) -> str:
    return f"{prefix}{int(time.time() * 1000)}{secrets.randbelow(10**9):09d}"
