"""Fixtures of the agent's end-to-end tests: a real server (one per test module, on SQLite),
a REST client of it, and a TCP printer on loopback."""

from __future__ import annotations

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
