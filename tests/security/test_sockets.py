"""Socket hardening: browser origins outside the allowed list are refused, and oversized
messages end the connection instead of being processed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from tests.realtime.clients import bridge
from tests.realtime.conftest import TEST_SERVER_ENV
from tests.servers import running_server
from tests.world import World

ALLOWED = "https://pos.example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd: Path = tmp_path_factory.mktemp("sock")
    env = {**TEST_SERVER_ENV, "PRINTRELAY_SOCKET_ALLOWED_ORIGINS": ALLOWED}
    with running_server(f"sqlite:///{cwd / 's.db'}", cwd=cwd, extra_env=env) as url:
        yield url


async def _token(server: str) -> str:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        world = World(client, app=None)
        tenant = await world.tenant()
        return (await tenant.device(await tenant.location())).token


async def _connects(server: str, token: str, origin: str | None) -> bool:
    sio = socketio.AsyncClient(reconnection=False)
    headers = {"Origin": origin} if origin else {}
    try:
        await sio.connect(
            server, auth={"token": token}, transports=["websocket"], headers=headers, wait_timeout=5
        )
    except socketio.exceptions.ConnectionError:
        return False
    await sio.disconnect()
    return True


async def test_only_allowed_browser_origins_may_open_sockets(server: str) -> None:
    token = await _token(server)
    assert await _connects(server, token, ALLOWED) is True
    assert await _connects(server, token, "https://evil.example.net") is False
    assert await _connects(server, token, None) is True  # the agent sends no Origin


async def test_an_oversized_message_ends_the_connection(server: str) -> None:
    token = await _token(server)
    b = await bridge(server, token).connect()
    try:
        await b.wait_for("bridge.owner")
        await b.sio.emit("printer.status", {"printer": "x" * (128 * 1024), "state": "online"})
        await asyncio.wait_for(b.disconnected.wait(), 10)
    finally:
        await b.close()
