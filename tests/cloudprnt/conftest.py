"""A real server for the CloudPRNT tests, in both modes (SQLite alone; PostgreSQL + Redis),
sweeping every half second so that a printer that stops polling goes offline soon."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.realtime.conftest import TEST_SERVER_ENV, Mode, redis_reachable
from tests.servers import ServerProcess
from tests.world import World

CLOUDPRNT_SERVER_ENV = {
    **TEST_SERVER_ENV,
    "PRINTRELAY_SWEEP_INTERVAL_S": "0.5",
    "PRINTRELAY_CLOUDPRNT_RATE_LIMIT": "100000",
}


@dataclass
class Server:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(
    scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.postgres)]
)
def mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Mode:
    if request.param == "memory":
        return Mode("memory", f"sqlite:///{tmp_path_factory.mktemp('cp') / 'cp.db'}")
    databases.require_service("Redis", redis_reachable())
    url: str = request.getfixturevalue("postgres_url")
    return Mode("redis", url, {"PRINTRELAY_REDIS_URL": databases.REDIS_URL})


@pytest.fixture(scope="module")
def server(mode: Mode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    process = ServerProcess(
        mode.database_url,
        cwd=tmp_path_factory.mktemp("server"),
        extra_env={**CLOUDPRNT_SERVER_ENV, **mode.env},
    )
    try:
        yield Server(process.start(), process.log_path)
    finally:
        process.stop()


@pytest.fixture
async def rest(server: Server) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield World(client, app=None)
