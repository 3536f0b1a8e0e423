"""The storage the settings name: the local folder (served by the API), or an S3 bucket."""

from __future__ import annotations

from imgopen.config import Settings
from imgopen.storage.base import Storage
from imgopen.storage.local import LocalStorage
from imgopen.storage.signing import UrlSigner


def open_storage(settings: Settings) -> Storage:
    if settings.storage == "s3":
        from imgopen.storage.s3 import S3Storage

        if not settings.s3_bucket:
            raise ValueError("IMGOPEN_STORAGE=s3 needs IMGOPEN_S3_BUCKET")
        return S3Storage(
            settings.s3_bucket,
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_path_style,
            settings.url_expiry_seconds,
            settings.s3_public_base_url,
        )
    signer = UrlSigner(settings.url_signing_key, settings.url_expiry_seconds) if settings.url_signing_key else None
    return LocalStorage(settings.resolved_storage_dir, settings.resolved_public_base_url, signer)
