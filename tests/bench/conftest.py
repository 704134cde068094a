"""One real server (the embedded default: SQLite, in-memory locks) for the bench's own tests,
with Engine.IO pings every half second so a client that does not answer them is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.world import World, create_world
from tests.servers import running_server
from tests.world import ADMIN_TOKEN

SERVER_ENV = {
    "PRINTRELAY_PAIRING_RATE_LIMIT": "10000",
    "PRINTRELAY_PAIRING_GLOBAL_RATE_LIMIT": "100000",
    "PRINTRELAY_SOCKET_PING_INTERVAL_S": "0.5",
    "PRINTRELAY_SOCKET_PING_TIMEOUT_S": "0.5",
}


@pytest.fixture(scope="module")
def database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-db") / "bench.db"


@pytest.fixture(scope="module")
def server(database_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("bench-server")
    with running_server(f"sqlite:///{database_file}", cwd=cwd, extra_env=SERVER_ENV) as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def world(server: str, session: aiohttp.ClientSession) -> World:
    """A fresh tenant with one location, two stations and one POS key."""
    return await create_world(
        session, server, ADMIN_TOKEN, locations=1, stations_per_location=2, pos_keys=1
    )
