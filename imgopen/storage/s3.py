"""Files in an S3 bucket (AWS, or any S3 server: SeaweedFS, MinIO, Ceph). Every process of a cluster
reads and writes the same bucket; clients get pre-signed URLs (or URLs under a public base URL).
Credentials come from the standard AWS variables and files, as boto3 reads them."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from imgopen.errors import ImgOpenError
from imgopen.storage.base import OwnFile, check_key


class S3Storage:
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        path_style: bool,
        expiry_seconds: int,
        public_base_url: str | None = None,
        client: Any = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self._expiry = expiry_seconds
        self._public = public_base_url.rstrip("/") if public_base_url else None
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        # What this bucket's URLs start with, to recognise them when they come back as inputs.
        self._prefixes = self._url_prefixes(endpoint_url, path_style)

    def _url_prefixes(self, endpoint_url: str | None, path_style: bool) -> list[str]:
        endpoint = (endpoint_url or self._client.meta.endpoint_url).rstrip("/")
        parts = urlsplit(endpoint)
        prefixes = [f"{endpoint}/{self.bucket}/"]
        if not path_style:
            prefixes.append(f"{parts.scheme}://{self.bucket}.{parts.netloc}/")
        return prefixes

    # --- the Storage protocol ---------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> str:
        content_type = mimetypes.guess_type(check_key(key))[0] or "application/octet-stream"
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return key

    def get(self, key: str) -> bytes:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=check_key(key))
        except self._client.exceptions.NoSuchKey as exc:
            raise ImgOpenError("404", f"no such file: {key}") from exc
        data: bytes = answer["Body"].read()
        return data

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete_prefix(self, prefix: str) -> None:
        """The key itself, or every key under it as a folder (as the local storage does)."""
        base = check_key(prefix.rstrip("/"))
        paginator = self._client.get_paginator("list_objects_v2")
        doomed: list[dict[str, str]] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                if item["Key"] == base or item["Key"].startswith(base + "/"):
                    doomed.append({"Key": item["Key"]})
        for start in range(0, len(doomed), 1000):  # S3's limit per delete request
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed[start : start + 1000]})

    def folders(self, area: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{area}/", Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"][len(area) + 1 :].rstrip("/")

    def written_ms(self, folder: str) -> int | None:
        base = check_key(folder.rstrip("/")) + "/"
        paginator = self._client.get_paginator("list_objects_v2")
        newest: int | None = None
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                newest = max(newest or 0, int(item["LastModified"].timestamp() * 1000))
        return newest

    def url(self, key: str) -> str:
        check_key(key)
        if self._public:
            return f"{self._public}/{quote(key)}"
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self._expiry
        )
        return url

    def key_from_url(self, url: str) -> OwnFile | None:
        bare = url.split("?", 1)[0]
        if self._public and bare.startswith(self._public + "/"):
            return OwnFile(check_key(unquote(bare[len(self._public) + 1 :])), signed=False)
        for prefix in self._prefixes:
            if bare.startswith(prefix):
                key = check_key(unquote(bare[len(prefix) :]))
                return OwnFile(key, signed="X-Amz-Signature=" in url and self._signature_holds(url))
        return None

    def _signature_holds(self, url: str) -> bool:
        """Whether S3 itself accepts the pre-signed URL (a one-byte read): the signature and its
        expiry are checked by the server that made them valid."""
        try:
            answer = httpx.get(url, headers={"Range": "bytes=0-0"}, timeout=10, trust_env=False)
        except httpx.HTTPError:
            return False
        return answer.status_code in (200, 206)
