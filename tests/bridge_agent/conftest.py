"""Fixtures of the agent's end-to-end tests: a real server (one per test module, on SQLite),
a REST client of it, a TCP printer on loopback, and a loopback port that never answers."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.servers import running_server
from tests.world import World


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``printrelay serve`` for the module; pairing unthrottled, since every test pairs."""
    cwd = tmp_path_factory.mktemp("agent-server")
    env = {"PRINTRELAY_PAIRING_RATE_LIMIT": "10000"}
    with running_server(f"sqlite:///{cwd / 'agent.db'}", cwd=cwd, extra_env=env) as url:
        yield url


@pytest.fixture
async def rest(server: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield World(client, app=None)


@pytest.fixture
async def printer() -> AsyncIterator[PrinterSimulator]:
    async with PrinterSimulator(host="127.0.0.1", port=0) as sim:
        yield sim


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full, so new connections hang unanswered."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        time.sleep(0.1)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
