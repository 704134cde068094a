"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses.

Every resolved address is checked (one private answer refuses the URL, so a name cannot mix
a public and a private record), and the sender connects to an address checked here, never
re-resolving the name (DNS rebinding). ``allow_private`` (PRINTRELAY_WEBHOOK_ALLOW_PRIVATE)
lifts the address check, for receivers on a private network and for tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_CHARS = 2000


class UnsafeTarget(ValueError):
    """The URL is not one a webhook may be sent to (the message says why, without secrets)."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # the name as written (Host header, TLS SNI and certificate check)
    port: int
    path: str  # path and query, at least "/"


def parse_url(url: str) -> Target:
    if len(url) > MAX_URL_CHARS:
        raise UnsafeTarget(f"url is longer than {MAX_URL_CHARS} characters")
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise UnsafeTarget("url must be printable ASCII (an international name in punycode)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget("url is not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("url must be http or https")
    if not parts.hostname:
        raise UnsafeTarget("url has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("url must not carry credentials")
    if parts.fragment:
        raise UnsafeTarget("url must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default_port, path)


def refusal(ip: IPAddress) -> str | None:
    """Why a webhook may not go to ``ip`` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return refusal(ip.ipv4_mapped)
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not public"),
    )
    for hit, name in checks:
        if hit:
            return f"{name} address"
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget("url host does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise UnsafeTarget("url host does not resolve")
    return addresses


async def checked_address(target: Target, *, allow_private: bool) -> IPAddress:
    """The address to connect to: the first resolved, once every resolved one is allowed."""
    addresses = await resolve(target.host, target.port)
    if not allow_private:
        for ip in addresses:
            why = refusal(ip)
            if why is not None:
                raise UnsafeTarget(f"url host resolves to a {why}")
    return addresses[0]
