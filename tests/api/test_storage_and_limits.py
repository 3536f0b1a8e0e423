"""Signed output URLs, metadata in outputs, own URLs as inputs, per-key limits, the TOML file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from imgopen.client import ApiError
from imgopen.config import Settings
from imgopen.services import build_services
from imgopen.testing.images import astronaut, data_uri, decode, encode
from imgopen.testing.tools import SleepTool
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def signed(make_settings: SettingsFactory) -> Iterator[Served]:
    settings = make_settings(url_signing_key="s3cret", url_expiry_seconds=600, max_active_tasks_per_key=2)
    running = Served(build_services(settings, extra_tools=[SleepTool()]))
    yield running
    running.stop()


def test_signed_urls_are_checked_and_outputs_carry_parameters(signed: Served, bid: Callable[..., str]) -> None:
    done = signed.client.wait(signed.client.img_enlarge(bid(), data_uri(encode(astronaut().resize((20, 10)))), scale=3))
    url = done["outputImageUrl"]
    assert "?exp=" in url and "&sig=" in url
    image = decode(httpx.get(url, trust_env=False).content)
    assert image.size == (60, 30)
    recorded = json.loads(image.info["parameters"])
    assert recorded == {
        "tool": "imgEnlarge",
        "scale": 3.0,
        "targetWidth": None,
        "targetHeight": None,
        "model": "lanczos",
        "outputFormat": "png",
    }
    bare = url.split("?")[0]
    assert httpx.get(bare, trust_env=False).status_code == 403
    assert httpx.get(url.replace("sig=", "sig=0"), trust_env=False).status_code == 403
    # This server's own output URL is a valid input: read from storage, not fetched over HTTP.
    again = signed.client.wait(signed.client.img_enlarge(bid(), url, scale=2))
    assert (again["width"], again["height"]) == (120, 60)
    # Another key: the signed URL is a capability its owner handed out; the bare or forged one is
    # "404", as if the file did not exist.
    other = signed.new_client("other")
    shared = other.wait(other.img_enlarge(bid(), url, scale=2))
    assert (shared["width"], shared["height"]) == (120, 60)
    for unsigned in (bare, bare + "?exp=9999999999&sig=00"):
        with pytest.raises(ApiError) as forged:
            other.img_enlarge(bid(), unsigned, scale=2)
        assert forged.value.code == "404"
    other.close()
    # The owner may use its own output whatever the signature (an expired URL of its own, say).
    mine = signed.client.wait(signed.client.img_enlarge(bid(), bare + "?exp=1&sig=00", scale=1.5))
    assert (mine["width"], mine["height"]) == (90, 45)


def test_active_task_limit_answers_429(signed: Served, bid: Callable[..., str]) -> None:
    client = signed.client
    first = client.submit_tool("test/sleep", bid(), steps=200, stepSeconds=0.02)
    second = client.submit_tool("test/sleep", bid(), steps=200, stepSeconds=0.02)
    with pytest.raises(ApiError) as limited:
        client.submit_tool("test/sleep", bid(), steps=1)
    assert limited.value.code == "429"
    client.cancel(first)
    client.cancel(second)
    client.wait(first)
    client.wait(second)
    assert client.wait(client.submit_tool("test/sleep", bid(), steps=1, stepSeconds=0))["state"] == "success"


def test_rate_limit_answers_429(make_settings: SettingsFactory, bid: Callable[..., str]) -> None:
    served = Served(build_services(make_settings(rate_limit_per_minute=2), extra_tools=[SleepTool()]))
    try:
        for _ in range(2):
            served.client.submit_tool("test/sleep", bid(), steps=1, stepSeconds=0)
        with pytest.raises(ApiError) as limited:
            served.client.submit_tool("test/sleep", bid(), steps=1, stepSeconds=0)
        assert limited.value.code == "429" and "per minute" in limited.value.msg
    finally:
        served.stop()


def test_settings_from_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "imgopen.toml"
    toml.write_text('data_dir = "/srv/imgopen"\nport = 9001\nurl_allowlist = ["10.0.0.0/8"]\ncpu_workers = 4\n')
    monkeypatch.setenv("IMGOPEN_CONFIG", str(toml))
    monkeypatch.setenv("IMGOPEN_PORT", "9002")
    monkeypatch.setenv("IMGOPEN_CALLBACK_DELAYS", "1,2")
    settings = Settings()
    assert settings.data_dir == Path("/srv/imgopen")
    assert settings.port == 9002  # the environment wins over the file
    assert settings.url_allowlist == ["10.0.0.0/8"]
    assert settings.cpu_workers == 4
    assert settings.callback_delays == [1.0, 2.0]
    assert settings.resolved_database_url == "sqlite:////srv/imgopen/imgopen.db"
    assert settings.resolved_public_base_url == "http://127.0.0.1:9002"
