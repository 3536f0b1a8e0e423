"""The A1111 settings a key sets with POST /sdapi/v1/options, kept in the database per key (every
API process of a cluster sees them; one user's model switch is not another's)."""

from __future__ import annotations

from typing import Any

from imgopen.clock import now_ms
from imgopen.db.engine import Database
from imgopen.db.tables import A1111Options

# The settings that change what imgopen does, and what each does.
HONOURED = {
    "sd_model_checkpoint": "the checkpoint of txt2img/img2img requests that name none",
    "sd_vae": "the VAE (Automatic / None: the checkpoint's own)",
    "CLIP_stop_at_last_layers": "clip skip",
    "samples_format": "png, jpg or webp: the format of generated images",
}


class OptionsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key_id: str) -> dict[str, Any]:
        with self._db.read() as session:
            row = session.get(A1111Options, key_id)
            return dict(row.options) if row else {}

    def update(self, key_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Merge `values` into the key's options; the result."""
        with self._db.transaction() as session:
            row = session.get(A1111Options, key_id, with_for_update=True)
            merged = {**(row.options if row else {}), **values}
            if row is None:
                session.add(A1111Options(key_id=key_id, options=merged, updated_at=now_ms()))
            else:
                row.options = merged
                row.updated_at = now_ms()
            return merged
