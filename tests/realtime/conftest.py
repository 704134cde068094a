"""Real server processes for the realtime tests, in both modes:

- memory: the embedded default (SQLite, in-memory locks and rooms), one process;
- redis: PostgreSQL + Redis, python-socketio's Redis manager.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.servers import running_server
from tests.world import World

TEST_SERVER_ENV = {
    "PRINTRELAY_PAIRING_RATE_LIMIT": "10000",
    "PRINTRELAY_PAIRING_GLOBAL_RATE_LIMIT": "100000",
}


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(databases.REDIS_URL, socket_timeout=2).ping())
    except Exception:
        return False


@dataclass
class Mode:
    name: str
    database_url: str
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(
    scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.postgres)]
)
def mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Mode:
    if request.param == "memory":
        return Mode("memory", f"sqlite:///{tmp_path_factory.mktemp('rt') / 'rt.db'}")
    databases.require_service("Redis", redis_reachable())
    url: str = request.getfixturevalue("postgres_url")
    return Mode("redis", url, {"PRINTRELAY_REDIS_URL": databases.REDIS_URL})


@pytest.fixture(scope="module")
def server(mode: Mode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd: Path = tmp_path_factory.mktemp("server")
    with running_server(
        mode.database_url, cwd=cwd, extra_env={**TEST_SERVER_ENV, **mode.env}
    ) as base_url:
        yield base_url


@pytest.fixture
async def rest(server: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield World(client, app=None)
