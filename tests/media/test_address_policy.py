"""The SSRF rule on addresses, every spelling of a private address included."""

from __future__ import annotations

import ipaddress

import pytest

from imgopen.errors import ImgOpenError
from imgopen.media.address_policy import AddressPolicy, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
        "240.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "localhost", "[::1]", "::ffff:7f00:1"])
def test_numeric_spellings_of_loopback_are_refused(host: str) -> None:
    with pytest.raises(ImgOpenError) as refused:
        AddressPolicy().resolve(host, 80, "sourceImage")
    assert refused.value.code == "422"
    assert "sourceImage" in refused.value.msg


def test_allowlist_by_network_and_by_name() -> None:
    assert AddressPolicy(["127.0.0.0/8"]).resolve("127.0.0.1", 80, "x")
    assert AddressPolicy(["localhost"]).resolve("localhost", 80, "x")
    with pytest.raises(ImgOpenError):
        AddressPolicy(["localhost"]).resolve("127.0.0.1", 80, "x")
