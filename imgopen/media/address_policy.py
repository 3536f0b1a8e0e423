"""Which network addresses a server-side fetch may reach (the SSRF guard's rule)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from imgopen.errors import ImgOpenError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses; loopback, private, link-local, reserved,
    shared (CGNAT), unspecified and multicast addresses are not, nor IPv6 forms that embed them."""
    inner = _embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    return ip.is_global and not ip.is_multicast


@dataclass
class AddressPolicy:
    """Public addresses only, except hosts and networks the operator allow-lists."""

    allowlist: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._hosts: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in self.allowlist:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self._hosts.add(entry.lower().rstrip("."))

    def allows_ip(self, ip: IPAddress) -> bool:
        return is_public(ip) or any(ip in net for net in self._networks if net.version == ip.version)

    def resolve(self, host: str, port: int, what: str) -> list[IPAddress]:
        """The addresses to connect to for host:port, or "422" when any is not allowed.

        Every address the name resolves to must pass: a name with one public and one private
        address could otherwise be steered to the private one.
        """
        name = host.strip("[]").lower().rstrip(".")
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ImgOpenError("422", f"{what}: could not resolve host {host!r} ({exc})") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if ip not in addresses:
                addresses.append(ip)
        if name in self._hosts:
            return addresses
        for ip in addresses:
            if not self.allows_ip(ip):
                raise ImgOpenError(
                    "422",
                    f"{what}: URL host {host!r} resolves to {ip}, a non-public address; "
                    "the server refuses it (an operator may allow-list it with IMGOPEN_URL_ALLOWLIST)",
                )
        if not addresses:
            raise ImgOpenError("422", f"{what}: host {host!r} has no address")
        return addresses
