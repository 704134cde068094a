"""Where webhooks may go: every resolved address checked, IPv4 and IPv6, mapped included."""

from __future__ import annotations

import ipaddress

import pytest

from app.webhooks import ssrf


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "0.0.0.0",
        "169.254.169.254",
        "224.0.0.1",
        "100.64.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
async def test_non_public_addresses_are_refused(address: str) -> None:
    assert ssrf.refusal(ipaddress.ip_address(address)) is not None
    host = f"[{address}]" if ":" in address else address
    target = ssrf.parse_url(f"https://{host}/hook")
    with pytest.raises(ssrf.UnsafeTarget):
        await ssrf.checked_address(target, allow_private=False)
    assert await ssrf.checked_address(target, allow_private=True) == ipaddress.ip_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert ssrf.refusal(ipaddress.ip_address(address)) is None


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(ssrf.UnsafeTarget, match="loopback"):
        await ssrf.checked_address(ssrf.parse_url("http://localhost:8080/x"), allow_private=False)


async def test_one_private_answer_among_public_ones_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def answers(host: str, port: int) -> list[ssrf.IPAddress]:
        return [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.1.2.3")]

    monkeypatch.setattr(ssrf, "resolve", answers)
    with pytest.raises(ssrf.UnsafeTarget, match="private"):
        await ssrf.checked_address(ssrf.parse_url("https://hooks.example/"), allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://example.com",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "https://example.com/#frag",
        "https://example.com/" + "a" * 2001,
        "https://exämple.com/",
        "https://example.com/a b",
        "https://example.com/\udc00",
        "https://example.com/\x00",
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.parse_url(url)


def test_parse_keeps_the_name_port_and_query() -> None:
    target = ssrf.parse_url("https://Hooks.Example.com:8443/in?shop=1")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        8443,
        "/in?shop=1",
    )
