"""Fetch a URL with the SSRF guard: every hop (redirects included) is resolved, checked and pinned.

The connection goes to the address that was checked (the Host header and TLS name stay the
original host), so a DNS answer that changes between the check and the connect cannot reach
a private address.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import httpx

from imgopen.errors import ImgOpenError
from imgopen.media.address_policy import AddressPolicy

_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    final_url: str


@dataclass
class FetchLimits:
    max_bytes: int
    timeout_seconds: float
    max_redirects: int


class Fetcher:
    def __init__(self, policy: AddressPolicy, limits: FetchLimits, user_agent: str = "imgopen") -> None:
        self._policy = policy
        self._limits = limits
        self._client = httpx.Client(trust_env=False, follow_redirects=False, headers={"User-Agent": user_agent})

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, what: str) -> Fetched:
        """GET url (http or https) within the limits; ImgOpenError 413 / 422 otherwise."""
        deadline = time.monotonic() + self._limits.timeout_seconds
        current = self._parse(url, what)
        for _hop in range(self._limits.max_redirects + 1):
            response_or_next = self._one_hop(current, what, deadline)
            if isinstance(response_or_next, Fetched):
                return response_or_next
            current = response_or_next
        raise ImgOpenError("422", f"{what}: more than {self._limits.max_redirects} redirects from {url}")

    def _parse(self, url: str, what: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise ImgOpenError("422", f"{what}: not a valid URL ({exc})") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ImgOpenError("422", f"{what}: only http and https URLs can be fetched, not {url[:80]!r}")
        return parsed

    def _pin(self, url: httpx.URL, what: str) -> list[tuple[httpx.URL, dict[str, str], dict[str, str]]]:
        """(URL with a checked address as host, headers, extensions) per address of the host."""
        port = url.port or (443 if url.scheme == "https" else 80)
        headers = {"Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": url.host} if url.scheme == "https" and not _is_ip(url.host) else {}
        return [
            (url.copy_with(host=str(address)), headers, extensions)
            for address in self._policy.resolve(url.host, port, what)
        ]

    def _open(
        self,
        method: str,
        url: httpx.URL,
        what: str,
        timeout: float,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A streamed response from the first of the host's checked addresses that accepts a
        connection; the caller closes it."""
        candidates = self._pin(url, what)
        for index, (pinned, pin_headers, extensions) in enumerate(candidates):
            request = self._client.build_request(
                method,
                pinned,
                content=content,
                headers={**(headers or {}), **pin_headers},
                timeout=httpx.Timeout(timeout),
                extensions=extensions,
            )
            try:
                return self._client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(candidates) - 1:
                    raise
        raise ImgOpenError("422", f"{what}: host {url.host!r} has no address")

    def _one_hop(self, url: httpx.URL, what: str, deadline: float) -> Fetched | httpx.URL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ImgOpenError("422", f"{what}: timed out fetching {url}")
        try:
            response = self._open("GET", url, what, remaining)
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    return self._parse(str(url.join(response.headers["location"])), what)
                if response.status_code >= 400:
                    raise ImgOpenError("422", f"{what}: could not fetch {url}: HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self._limits.max_bytes:
                    raise _too_big(what, self._limits.max_bytes)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self._limits.max_bytes:
                        raise _too_big(what, self._limits.max_bytes)
                    if time.monotonic() > deadline:
                        raise ImgOpenError("422", f"{what}: timed out fetching {url}")
                    chunks.append(chunk)
                return Fetched(b"".join(chunks), response.headers.get("content-type"), str(url))
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise ImgOpenError(
                "422", f"{what}: timed out fetching {url} (limit {self._limits.timeout_seconds:g} s)"
            ) from exc
        except httpx.HTTPError as exc:
            raise ImgOpenError("422", f"{what}: could not fetch {url}: {type(exc).__name__}: {exc}") from exc

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float, what: str, max_answer: int = 65536
    ) -> tuple[int, bytes]:
        """POST body to url under the same guard (no redirects followed); (status, start of the answer)."""
        try:
            response = self._open("POST", self._parse(url, what), what, timeout, content=body, headers=headers)
            try:
                answer = b""
                for chunk in response.iter_bytes():
                    answer += chunk
                    if len(answer) >= max_answer:
                        break
                return response.status_code, answer[:max_answer]
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise ImgOpenError("422", f"{what}: {type(exc).__name__}: {exc}") from exc


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _too_big(what: str, limit: int) -> ImgOpenError:
    return ImgOpenError("413", f"{what}: larger than the limit of {limit // (1024 * 1024)} MB")
