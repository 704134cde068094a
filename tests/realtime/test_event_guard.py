"""``app.realtime.event_guard`` over the whole app served by uvicorn on loopback in this
process (so a test can look at the server's state and capture its logs), with real clients:
python-socketio's on every transport, and a raw websocket for what it would never send."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
import socketio
import uvicorn

from app.config import Environment, Settings
from app.main import create_app
from tests.realtime.clients import WAIT_S, SocketClient, bridge
from tests.world import ADMIN_TOKEN, World

# A binary event that announces a million attachments; python-socketio would keep every one.
MANY_ATTACHMENTS = 1_000_000
ATTACHMENT_BYTES = 1024
# The defaults (PRINTRELAY_SOCKET_EVENTS_IN_FLIGHT, PRINTRELAY_SOCKET_EVENTS_QUEUED_BYTES).
IN_FLIGHT, QUEUED_BYTES = 8, 256 * 1024
PAD_BYTES = 8000


@dataclass
class Live:
    url: str
    sio: Any  # the app's QuickSocketServer
    realtime: Any
    world: World

    async def bridge_token(self) -> str:
        tenant = await self.world.tenant()
        return (await tenant.device(await tenant.location())).token


@pytest.fixture
async def live(sqlite_url: str) -> AsyncIterator[Live]:
    settings = Settings(
        env=Environment.PRODUCTION,
        database_url=sqlite_url,
        admin_token=ADMIN_TOKEN,
        redis_url=None,
        pairing_rate_limit=10_000,
        pairing_global_rate_limit=100_000,
    )
    app = create_app(settings, run_sweeper=False)
    asgi = socketio.ASGIApp(app.state.sio, other_asgi_app=app, socketio_path="socket.io")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(asgi, lifespan="off", log_level="warning"))
    async with app.router.lifespan_context(app):
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(int(WAIT_S / 0.01)):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                yield Live(url, app.state.sio, app.state.realtime, World(client, app))
        finally:
            server.should_exit = True
            await task


async def _owner(live: Live, transports: list[str] | None = None) -> SocketClient:
    b = bridge(live.url, await live.bridge_token())
    if transports is None:
        await b.connect()
    else:
        await b.sio.connect(b.base_url, auth=b.auth, transports=transports, wait_timeout=WAIT_S)
    await b.wait_for("bridge.owner")
    return b


# -- item 4: binary packets ----------------------------------------------------------------


async def test_a_binary_event_is_refused_at_its_header_before_any_attachment_is_kept(
    live: Live,
) -> None:
    token = await live.bridge_token()
    ws_url = live.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        opened = await ws.receive_str(timeout=WAIT_S)
        assert opened.startswith("0")
        await ws.send_str("40" + json.dumps({"token": token}))
        assert (await ws.receive_str(timeout=WAIT_S)).startswith("40")
        sid = next(iter(live.realtime.sessions))
        header = ["printer.status", {"printer": {"_placeholder": True, "num": 0}}]
        await ws.send_str(f"45{MANY_ATTACHMENTS}-" + json.dumps(header))
        seen: list[str] = []
        async with asyncio.timeout(WAIT_S):  # the server ends it: no attachment awaited
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    seen.append(msg.data)
        assert "41" in seen  # Socket.IO disconnect: the client does not reconnect by itself
        assert ws.closed
    assert live.sio._binary_packet == {}  # nothing buffered for it
    assert sid not in live.realtime.sessions  # its disconnect ran
    assert live.sio.budgets == {}


@pytest.mark.parametrize(
    "transports", [["websocket"], ["polling"], ["polling", "websocket"]], ids=["ws", "poll", "up"]
)
async def test_binary_events_are_refused_on_every_transport(
    live: Live, transports: list[str]
) -> None:
    b = await _owner(live, transports)
    try:
        if transports == ["polling", "websocket"]:  # python-engineio's own loop after this
            for _ in range(int(WAIT_S / 0.05)):
                if b.sio.transport() == "websocket":
                    break
                await asyncio.sleep(0.05)
            assert b.sio.transport() == "websocket"
        answers: list[Any] = []
        await b.sio.emit(
            "printer.status",
            {"printer": b"\x00" * ATTACHMENT_BYTES, "state": "online"},
            callback=lambda *a: answers.append(a),
        )
        await asyncio.wait_for(b.disconnected.wait(), WAIT_S)
        assert answers == []  # no handler ran
        assert live.sio._binary_packet == {}
        assert live.realtime.sessions == {}
    finally:
        await b.close()


# -- item 22: every event is answered ------------------------------------------------------


async def test_a_handler_s_unexpected_error_is_answered_and_logged_once(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(sid: str, data: Any) -> dict[str, Any]:
        raise RuntimeError("a bug")

    live.sio.on("broken", broken)
    b = await _owner(live)
    try:
        ack = await b.call("broken", {"x": 1})
        assert ack == {
            "ok": False,
            "error": {"code": "internal_error", "message": ack["error"]["message"]},
        }
        assert "'broken'" in caplog.text and "RuntimeError: a bug" in caplog.text
        assert (await b.call("heartbeat"))["owner"] is True  # the socket goes on
    finally:
        await b.close()


# -- item 23: what a client sends is escaped in logs ---------------------------------------


async def test_a_printer_name_cannot_forge_log_lines(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.realtime.server")
    forged = "kitchen\n2026-12-05 12:00:00 ERROR admin token leaked\x1b[2J\x1b[31m\u2028x"
    b = await _owner(live)
    try:
        assert await b.call("printer.status", {"printer": forged, "state": "online"}) == {
            "ok": True
        }
    finally:
        await b.close()
    lines = [r.getMessage() for r in caplog.records if "printer" in r.getMessage()]
    assert len(lines) == 1, lines
    line = lines[0]
    assert "\n" not in line and "\x1b" not in line and "\u2028" not in line
    assert repr(forged) in line  # escaped, nothing lost


# -- item 5: a socket's events in flight are bounded ---------------------------------------


async def test_a_socket_s_events_in_flight_are_bounded_and_the_rest_wait_or_are_refused(
    live: Live,
) -> None:
    running, peak, release = 0, 0, asyncio.Event()

    async def hold(sid: str, data: Any) -> dict[str, Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return {"ok": True}

    live.sio.on("hold", hold)
    b = await _owner(live)
    try:
        pad = "x" * PAD_BYTES
        calls = [asyncio.create_task(b.call("hold", {"pad": pad})) for _ in range(IN_FLIGHT + 60)]
        # Those past what may run and wait are answered at once, while the others are held.
        await asyncio.wait(calls[-10:], timeout=WAIT_S)
        refused = [c.result() for c in calls if c.done()]
        assert refused and {r["error"]["code"] for r in refused} == {"rate_limited"}
        assert peak == IN_FLIGHT
        release.set()
        answers = await asyncio.gather(*calls)
        waited = answers.count({"ok": True}) - IN_FLIGHT
        assert waited + len(refused) + IN_FLIGHT == len(calls)
        # As many as fit in the waiting bytes (each event is the pad and a few bytes more).
        assert waited * PAD_BYTES <= QUEUED_BYTES < (waited + 1) * (PAD_BYTES + 100)
        assert peak == IN_FLIGHT  # the waiting ones ran as others ended, never more at once
    finally:
        await b.close()
