"""The sender's HTTP clients: one per https server name, one for every http URL.

The sender puts the checked IP in the URL and the name in ``Host`` and (https) in SNI, where
the certificate is verified against the name. httpx pools connections by the URL's host, here
the IP: with one client, a request for a second name on the same address would ride a
connection whose certificate was verified for the first name. So each https name has a client
(a pool) of its own; plain http carries no identity and shares one.
"""

from __future__ import annotations

import ssl
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import certifi
import httpx

# Names whose idle clients are kept (their connections kept alive); past it the least
# recently used idle one is closed.
MAX_TLS_CLIENTS = 256


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The public CAs (certifi's bundle), plus the operator's own CA file when set."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class SenderClients:
    def __init__(self, timeout_s: float, ca_file: Path | None = None):
        self._timeout_s = timeout_s
        self._tls = tls_context(ca_file)
        self._plain = self._new()
        self._by_name: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._busy: Counter[str] = Counter()

    def _new(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            follow_redirects=False, timeout=self._timeout_s, trust_env=False, verify=self._tls
        )

    @asynccontextmanager
    async def client(self, scheme: str, name: str) -> AsyncIterator[httpx.AsyncClient]:
        """The client for a request to ``name`` (lower case, as ``ssrf.parse_url`` gives it)."""
        if scheme != "https":
            yield self._plain
            return
        client = self._by_name.pop(name, None) or self._new()
        self._by_name[name] = client  # the most recently used last
        self._busy[name] += 1
        try:
            yield client
        finally:
            self._busy[name] -= 1
            if not self._busy[name]:
                del self._busy[name]
            await self._close_idle_past_limit()

    async def _close_idle_past_limit(self) -> None:
        while len(self._by_name) > MAX_TLS_CLIENTS:
            idle = next((n for n in self._by_name if n not in self._busy), None)
            if idle is None:
                return
            await self._by_name.pop(idle).aclose()

    def names(self) -> list[str]:
        return list(self._by_name)

    async def aclose(self) -> None:
        await self._plain.aclose()
        while self._by_name:
            _, client = self._by_name.popitem()
            await client.aclose()
