"""Slow-loris against a real ``printrelay serve`` on loopback (issue 19, item 8).

The server is given a small descriptor budget (``prlimit``, as a container's would be, only
smaller), then a few hundred connections each send a request head one header line at a time
and never finish it, while a client keeps making ordinary requests. Without a deadline on
request heads the slow connections pile up past the budget and the server stops accepting
anyone; with it, each is closed after ``PRINTRELAY_REQUEST_HEAD_TIMEOUT_S`` and every ordinary
request is answered.
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess

pytestmark = pytest.mark.slow

HEAD_TIMEOUT_S = 1.0
# Descriptors the server may hold: its own (database, sockets, pipes: about 30) and room for
# the slow connections opened during one head timeout, but not for all of them.
SERVER_DESCRIPTORS = 160
SLOW_CONNECTIONS = 300
SLOW_OPENED_PER_S = 100
HEADER_LINE_EVERY_S = 0.5  # uvicorn resets nothing on these; a real attack sends one every 5 s
SLOW_PATIENCE_S = 5.0  # a slow connection the server has not closed by then counts as held
LEGIT_EVERY_S = 0.1
LEGIT_TIMEOUT_S = 3.0


async def _slow_connection(port: int) -> bool:
    """Trickles a request head until the server closes the connection; True if it did."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + SLOW_PATIENCE_S
        line = 0
        while loop.time() < give_up_at:
            try:
                await writer.drain()
                if await asyncio.wait_for(reader.read(1024), HEADER_LINE_EVERY_S) == b"":
                    return True  # closed by the server
            except TimeoutError:
                line += 1
                writer.write(b"X-Slow-%d: still coming\r\n" % line)
            except ConnectionError:
                return True
        return False
    finally:
        writer.close()


async def _attack(port: int) -> list[bool]:
    tasks = []
    for _ in range(SLOW_CONNECTIONS):
        tasks.append(asyncio.create_task(_slow_connection(port)))
        await asyncio.sleep(1 / SLOW_OPENED_PER_S)
    return list(await asyncio.gather(*tasks))


async def _legitimate(url: str, stop: asyncio.Event) -> list[int | str]:
    """One request on a new connection every ``LEGIT_EVERY_S``; each one's status or error."""
    outcomes: list[int | str] = []
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=LEGIT_TIMEOUT_S, limits=limits) as client:
        while not stop.is_set():
            try:
                outcomes.append((await client.get(f"{url}/healthz")).status_code)
            except httpx.HTTPError as exc:
                outcomes.append(repr(exc))
            await asyncio.sleep(LEGIT_EVERY_S)
    return outcomes


async def test_slow_request_heads_are_cut_off_and_everyone_else_is_served(
    tmp_path: Path,
) -> None:
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'loris.db'}",
        cwd=tmp_path,
        extra_env={"PRINTRELAY_REQUEST_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S)},
    )
    url = server.start()
    try:
        assert server.proc is not None
        resource.prlimit(
            server.proc.pid, resource.RLIMIT_NOFILE, (SERVER_DESCRIPTORS, SERVER_DESCRIPTORS)
        )
        stop = asyncio.Event()
        legit = asyncio.create_task(_legitimate(url, stop))
        closed_by_server = await _attack(server.port)
        stop.set()
        outcomes = await legit
    finally:
        server.stop()
    assert len(outcomes) >= 20, outcomes
    assert outcomes == [200] * len(outcomes), [o for o in outcomes if o != 200][:5]
    assert all(closed_by_server), f"{closed_by_server.count(False)} slow heads were never cut off"
