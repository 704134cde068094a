"""``app.realtime.websocket_loop`` (Engine.IO's websocket loop without a task per message) and
``rooms_manager.LocalRoomsManager`` (emits to one recipient without a task), over a real uvicorn
server on loopback with real clients (python-socketio's, and a raw websocket for the clients
that misbehave)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import socketio
import uvicorn

from app.realtime.event_guard import EventLimits
from app.realtime.rooms_manager import LocalRoomsManager
from app.realtime.websocket_loop import QuickSocket, QuickSocketServer, SilenceWatch, WaitEnded

# python-engineio tells clients the interval in whole seconds (0.3 s would read as 0).
PING_INTERVAL_S = 1.0
PING_TIMEOUT_S = 0.5
LIMIT_S = PING_INTERVAL_S + PING_TIMEOUT_S
MAX_MESSAGE = 1000
WAIT_S = 10.0


@dataclass
class Served:
    url: str
    sio: QuickSocketServer
    disconnects: list[tuple[str, Any]] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    sio = QuickSocketServer(
        async_mode="asgi",
        client_manager=LocalRoomsManager(),
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_TIMEOUT_S,
        max_http_buffer_size=MAX_MESSAGE,
        # These tests send hundreds of events at once; event_guard's limits have tests of theirs.
        event_limits=EventLimits(in_flight=1000),
        logger=False,
        engineio_logger=False,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    here = Served(f"http://127.0.0.1:{port}", sio)

    async def echo(sid: str, data: Any) -> Any:
        await sio.emit("echoed", data, to=sid)
        return data

    async def disconnect(sid: str, reason: Any) -> None:
        here.disconnects.append((sid, reason))
        here.gone.set()

    async def join(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)

    sio.on("echo", echo)
    sio.on("join", join)
    sio.on("disconnect", disconnect)
    config = uvicorn.Config(
        socketio.ASGIApp(sio), lifespan="off", log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(int(WAIT_S / 0.01)):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    try:
        yield here
    finally:
        server.should_exit = True
        await task


async def test_events_answers_and_emits_flow_in_order_over_quick_sockets(served: Served) -> None:
    client = socketio.AsyncClient(reconnection=False)
    echoed: list[Any] = []
    client.on("echoed", lambda data: echoed.append(data))
    await client.connect(served.url, transports=["websocket"])
    try:
        [sock] = served.sio.eio.sockets.values()
        assert type(sock) is QuickSocket
        answers = await asyncio.gather(
            *(client.call("echo", {"n": n}, timeout=WAIT_S) for n in range(200))
        )
        assert answers == [{"n": n} for n in range(200)]
        for _ in range(int(WAIT_S / 0.01)):
            if len(echoed) == 200:
                break
            await asyncio.sleep(0.01)
        # One socket's outgoing packets leave in the order they were queued.
        assert echoed == [{"n": n} for n in range(200)]
        # Several ping rounds pass: a client that answers pings is not silent.
        await asyncio.sleep(2.5 * LIMIT_S)
        assert client.connected and not served.disconnects
        assert await client.call("echo", "still here", timeout=WAIT_S) == "still here"
    finally:
        await client.disconnect()
    await asyncio.wait_for(served.gone.wait(), WAIT_S)
    assert not served.sio.eio.sockets


async def _raw_socket(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A websocket that has opened Engine.IO and connected Socket.IO's namespace."""
    ws = await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
    opened = await ws.receive_str(timeout=WAIT_S)
    assert opened.startswith("0") and json.loads(opened[1:])["pingInterval"] > 0
    await ws.send_str("40")
    assert (await ws.receive_str(timeout=WAIT_S)).startswith("40")
    return ws


async def _closed_within(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[str]:
    """What the server sent until it closed the websocket (fails if it stays open)."""
    seen: list[str] = []
    async with asyncio.timeout(seconds):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                return seen
            seen.append(msg.data)


async def test_a_client_that_goes_silent_is_dropped(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _raw_socket(session, served.url)
        # It never answers the server's ping and sends nothing: python-engineio sends no second
        # ping without a pong. Two clocks end this connection at about the same moment, and
        # whichever runs first names the reason: the silence limit of our loop (interval +
        # timeout of silence: transport close) or python-engineio's service task, which checks
        # every socket's unanswered ping each few seconds (ping timeout).
        seen = await _closed_within(ws, WAIT_S)
        assert seen[:1] == ["2"]
    await asyncio.wait_for(served.gone.wait(), WAIT_S)
    [(_, reason)] = served.disconnects
    assert reason in {served.sio.reason.TRANSPORT_CLOSE, served.sio.reason.PING_TIMEOUT}
    assert not served.sio.eio.sockets


async def test_a_client_that_keeps_talking_outlives_the_limit(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _raw_socket(session, served.url)
        pings = answers = 0
        deadline = asyncio.get_running_loop().time() + 2.5 * LIMIT_S
        n = 0
        while asyncio.get_running_loop().time() < deadline:
            await ws.send_str(f'42{n}["echo",{n}]')  # an event with ack id n
            n += 1
            while True:
                msg = await ws.receive(timeout=WAIT_S)
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                if msg.data == "2":
                    pings += 1
                    await ws.send_str("3")
                elif msg.data.startswith("43"):
                    answers += 1
                    break
            await asyncio.sleep(0.05)
        assert answers == n and pings >= 2
        assert not served.disconnects
        await ws.close()
    await asyncio.wait_for(served.gone.wait(), WAIT_S)


async def test_a_message_over_the_limit_ends_the_connection(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _raw_socket(session, served.url)
        await ws.send_str('42["echo","' + "x" * MAX_MESSAGE + '"]')
        seen = await _closed_within(ws, WAIT_S)
        assert not any(m.startswith("42") or m.startswith("43") for m in seen)
    await asyncio.wait_for(served.gone.wait(), WAIT_S)


async def test_the_silence_watch_times_each_wait_and_spares_a_busy_task() -> None:
    async def sleeper() -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(sleeper())
    watch = SilenceWatch(task, 0.05)
    await asyncio.sleep(0.2)
    assert not task.done() and not watch.expired  # not waiting (busy): left alone
    for _ in range(8):  # waits shorter than the limit, one after another
        watch.begin()
        await asyncio.sleep(0.02)
        watch.end()
    assert not task.done()
    watch.begin()  # then one wait that lasts
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), WAIT_S)  # TimeoutError if it is not
    assert watch.expired and watch.handle is None
    idle = asyncio.create_task(sleeper())
    stopped = SilenceWatch(idle, 0.05)
    stopped.begin()
    stopped.stop()
    await asyncio.sleep(0.2)
    assert not idle.done()
    idle.cancel()


async def test_a_watched_wait_answers_its_own_cancel_and_leaves_a_shutdowns() -> None:
    async def loop(outcome: list[Any]) -> None:
        watch = SilenceWatch.of_this_task(0.05)
        me = watch.task
        assert await watch.watch(asyncio.sleep(0.01, "fed")) == "fed"
        try:
            await watch.watch(asyncio.sleep(3600))
        except WaitEnded:
            # The loop ends either way; only the watch's own cancel is answered (uncancel),
            # so later timeouts in the task work and a shutdown's cancel stays counted.
            outcome.extend([watch.expired, me.cancelling()])
        finally:
            watch.stop()

    silent: list[Any] = []
    await asyncio.wait_for(loop(silent), WAIT_S)
    assert silent == [True, 0]
    shut: list[Any] = []
    task = asyncio.create_task(loop(shut))
    await asyncio.sleep(0.02)
    task.cancel()  # the server shutting down, before the limit
    await asyncio.wait_for(task, WAIT_S)
    assert shut == [False, 1]


async def test_emits_reach_one_recipient_without_a_task_and_several_as_before(
    served: Served,
) -> None:
    clients = []
    got: list[list[tuple[str, Any]]] = []
    for n in range(3):
        client = socketio.AsyncClient(reconnection=False)
        seen: list[tuple[str, Any]] = []
        client.on("news", lambda *args, seen=seen: seen.append(("news", args)))
        await client.connect(served.url, transports=["websocket"])
        await client.call("join", "all", timeout=WAIT_S)
        await client.call("join", f"only-{n}", timeout=WAIT_S)
        clients.append(client)
        got.append(seen)
    try:
        sids = [next(iter(served.sio.manager.rooms["/"][f"only-{n}"])) for n in range(3)]
        loop = asyncio.get_running_loop()
        made: list[Any] = []

        def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> Any:
            made.append(coro)
            return asyncio.Task(coro, loop=loop, **kw)

        loop.set_task_factory(counting_factory)
        try:
            await served.sio.emit("news", {"to": "one"}, room="only-1")
            await served.sio.emit("news", ("two", "args"), to=sids[2])
            one_recipient_tasks = len(made)
            await served.sio.emit("news", "all but 0", room="all", skip_sid=sids[0])
            several_recipient_tasks = len(made) - one_recipient_tasks
        finally:
            loop.set_task_factory(None)
        assert one_recipient_tasks == 0
        assert several_recipient_tasks == 2  # python-socketio's own delivery: a task each
        await served.sio.emit("news", None, room="nobody-here")
        await served.sio.emit("news", None, to=sids[0])
        expected = [
            [("news", ())],
            [("news", ({"to": "one"},)), ("news", ("all but 0",))],
            [("news", ("two", "args")), ("news", ("all but 0",))],
        ]
        for _ in range(int(WAIT_S / 0.01)):
            if [len(seen) for seen in got] == [1, 2, 2]:
                break
            await asyncio.sleep(0.01)
        assert got == expected
    finally:
        for client in clients:
            await client.disconnect()
