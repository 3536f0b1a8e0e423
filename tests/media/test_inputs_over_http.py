"""Hostile inputs at the submit endpoint: every one answers its exact code, none a 500, and the
server keeps working after them."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest

from imgopen.client import ApiError
from imgopen.services import build_services
from imgopen.testing.http_peers import Peer, running_peer
from imgopen.testing.images import astronaut, data_uri, encode, png_bomb, truncated_jpeg
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    with running_peer() as running:
        yield running


@pytest.fixture(scope="module")
def guarded(make_settings: SettingsFactory) -> Iterator[Served]:
    # "localhost" is allow-listed by name, so the peer is reachable as localhost only; the same
    # peer spelled 127.0.0.1 (directly or through a redirect) must still be refused.
    services = build_services(make_settings(url_allowlist=["localhost"], max_input_bytes=400_000))
    running = Served(services)
    yield running
    running.stop()


def code_of(served: Served, source: str, bid: Callable[..., str]) -> str:
    try:
        served.client.img_enlarge(bid(), source, scale=2)
    except ApiError as error:
        return error.code
    return "200"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://[::1]/a.png",
        "http://10.0.0.7/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
        "http://0177.0.0.1/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
    ],
)
def test_ssrf_urls_are_422(guarded: Served, url: str, bid: Callable[..., str]) -> None:
    assert code_of(guarded, url, bid) == "422"


def test_redirect_to_loopback_is_422_and_the_allowed_host_works(
    guarded: Served, peer: Peer, bid: Callable[..., str]
) -> None:
    png = encode(astronaut().resize((40, 30)))
    peer.file("/ok.png", png)
    allowed = f"http://localhost:{peer.port}/ok.png"
    handle = guarded.client.img_enlarge(bid(), allowed, scale=2)
    done = guarded.client.wait(handle)
    assert (done["width"], done["height"]) == (80, 60)
    peer.redirect("/hop", f"http://127.0.0.1:{peer.port}/ok.png")
    with pytest.raises(ApiError) as refused:
        guarded.client.img_enlarge(bid(), f"http://localhost:{peer.port}/hop", scale=2)
    assert refused.value.code == "422"
    assert "127.0.0.1" in refused.value.msg


def test_http_errors_and_oversized_downloads(guarded: Served, peer: Peer, bid: Callable[..., str]) -> None:
    with pytest.raises(ApiError) as missing:
        guarded.client.img_enlarge(bid(), f"http://localhost:{peer.port}/nothing.png", scale=2)
    assert missing.value.code == "422" and "HTTP 404" in missing.value.msg
    peer.file("/big.bin", b"\0" * 500_000)
    assert code_of(guarded, f"http://localhost:{peer.port}/big.bin", bid) == "413"


def test_bomb_truncated_text_and_bad_base64(guarded: Served, bid: Callable[..., str]) -> None:
    bomb = png_bomb()
    assert len(bomb) < 400_000
    assert code_of(guarded, data_uri(bomb), bid) == "413"
    assert code_of(guarded, data_uri(truncated_jpeg(), "image/jpeg"), bid) == "422"
    text_file = base64.b64encode(b"just some text, not an image\n" * 10).decode()
    assert code_of(guarded, text_file, bid) == "422"
    assert code_of(guarded, "data:text/plain;base64,aGVsbG8=", bid) == "422"
    assert code_of(guarded, "not an image at all!", bid) == "422"
    assert code_of(guarded, data_uri(b"\0" * 600_000), bid) == "413"
    # Still alive and well: a good image goes through.
    handle = guarded.client.img_enlarge(bid(), data_uri(encode(astronaut().resize((10, 10)))), scale=2)
    assert guarded.client.wait(handle)["state"] == "success"


def test_bare_base64_and_exif_rotation(guarded: Served, bid: Callable[..., str]) -> None:
    image = astronaut().resize((60, 40))
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    jpeg = encode(image, "JPEG", exif=exif.tobytes())
    handle = guarded.client.img_enlarge(bid(), base64.b64encode(jpeg).decode(), scale=2)
    done = guarded.client.wait(handle)
    assert (done["width"], done["height"]) == (80, 120)
