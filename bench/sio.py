"""A minimal Socket.IO client (Socket.IO v5 over Engine.IO v4) on one aiohttp websocket.

Only what a bench bridge needs, so the load generator spends its CPU on the load and not on
itself: websocket transport only (no polling, no upgrade), the default namespace, text packets
only (no binary attachments), no reconnection (the caller decides).

    GET ws://host/socket.io/?EIO=4&transport=websocket
    server: 0{"sid": ..., "pingInterval": ..., "pingTimeout": ...}      Engine.IO open
    client: 40{"token": "prd_..."}                                    connect "/" with auth
    server: 40{"sid": ...}  or  44{"message": ..., "data": ...}        accepted / refused
    server: 2   client: 3                                             Engine.IO ping / pong
    server: 42["event", data]                                         an event
    client: 42<id>["event", data]   server: 43<id>[ack]               an event with an ack
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

EventHandler = Callable[[str, Any], None]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


class SocketIOError(Exception):
    """The server broke the protocol, or the connection is gone."""


class ConnectRefused(SocketIOError):
    """The server answered the namespace connect with ``44`` (connect_error)."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.data = data

    @property
    def code(self) -> str | None:
        if isinstance(self.data, dict):
            inner = self.data.get("data")
            if isinstance(inner, dict) and isinstance(inner.get("code"), str):
                return str(inner["code"])
            message = self.data.get("message")
            return message if isinstance(message, str) else None
        return None


class Disconnected(SocketIOError):
    """The connection closed while a call waited for its ack."""


def websocket_url(base_url: str, path: str = "socket.io") -> str:
    if base_url.startswith("https://"):
        ws = "wss://" + base_url[len("https://") :]
    elif base_url.startswith("http://"):
        ws = "ws://" + base_url[len("http://") :]
    else:
        ws = base_url
    return f"{ws.rstrip('/')}/{path.strip('/')}/?EIO=4&transport=websocket"


class SioClient:
    """One Socket.IO connection. ``on_event(name, data)`` runs in the reader for every event
    the server sends; it must not block (schedule a task for anything that awaits)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        auth: dict[str, Any] | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        self.session = session
        self.url = websocket_url(base_url)
        self.auth = auth
        self.on_event = on_event
        self.sid: str | None = None
        self.ping_interval_s: float | None = None
        self.pings_answered = 0
        self.closed = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self.closed.is_set()

    async def connect(self, timeout_s: float = 10.0) -> str:
        """Open the websocket and connect the default namespace; return the Socket.IO sid.

        Raises ConnectRefused (``44``), SocketIOError, or aiohttp/OS errors."""
        async with asyncio.timeout(timeout_s):
            ws = await self.session.ws_connect(self.url, autoping=True, max_msg_size=0, compress=0)
            self._ws = ws
            try:
                first = await ws.receive()
                if first.type is not aiohttp.WSMsgType.TEXT or not first.data.startswith("0"):
                    raise SocketIOError(f"expected an Engine.IO open packet, got {first!r}")
                opened = _loads(first.data[1:])
                self.ping_interval_s = opened.get("pingInterval", 0) / 1000
                connect = "40" if self.auth is None else "40" + _dumps(self.auth)
                await ws.send_str(connect)
                while True:
                    msg = await ws.receive()
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        raise SocketIOError(f"connection closed during connect: {msg.type!r}")
                    data: str = msg.data
                    if data == "2":
                        await ws.send_str("3")
                        self.pings_answered += 1
                    elif data.startswith("40"):
                        self.sid = _loads(data[2:]).get("sid") if len(data) > 2 else None
                        break
                    elif data.startswith("44"):
                        raise ConnectRefused(_loads(data[2:]) if len(data) > 2 else None)
                    else:
                        raise SocketIOError(f"unexpected packet during connect: {data[:80]!r}")
            except BaseException:
                await ws.close()
                self.closed.set()
                raise
        self._reader = asyncio.create_task(self._read(ws))
        return self.sid or ""

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    if msg.type is aiohttp.WSMsgType.BINARY:
                        continue
                    return  # close, closing, closed, error
                data: str = msg.data
                kind = data[:2]
                if kind == "42":
                    self._event(data)
                elif kind == "43":
                    self._ack(data)
                elif data == "2":
                    await ws.send_str("3")
                    self.pings_answered += 1
                elif kind == "41" or data[:1] == "1":
                    return  # namespace disconnect or Engine.IO close
                # "6" (noop) and anything else: ignore
        except (aiohttp.ClientError, ConnectionError):
            return
        finally:
            self._closed()
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()

    def _event(self, data: str) -> None:
        i = 2
        while data[i].isdigit():  # the server may ask for an ack: unused by this protocol
            i += 1
        args = _loads(data[i:])
        if self.on_event is not None and args:
            self.on_event(args[0], args[1] if len(args) > 1 else None)

    def _ack(self, data: str) -> None:
        i = 2
        while data[i].isdigit():
            i += 1
        future = self._acks.pop(int(data[2:i]), None)
        if future is not None and not future.done():
            args = _loads(data[i:])
            future.set_result(args[0] if len(args) == 1 else (tuple(args) or None))

    def _closed(self) -> None:
        self.closed.set()
        acks, self._acks = self._acks, {}
        for future in acks.values():
            if not future.done():
                future.set_exception(Disconnected("connection closed"))

    async def emit(self, event: str, data: Any = None) -> None:
        """Send an event without asking for an ack."""
        await self._send("42" + _dumps([event] if data is None else [event, data]))

    async def call(self, event: str, data: Any = None, timeout_s: float = 10.0) -> Any:
        """Send an event and return the server's ack (its first argument)."""
        self._next_id += 1
        ack_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            await self._send(f"42{ack_id}" + _dumps([event] if data is None else [event, data]))
            async with asyncio.timeout(timeout_s):
                return await future
        finally:
            self._acks.pop(ack_id, None)

    async def _send(self, packet: str) -> None:
        if self._ws is None or self.closed.is_set():
            raise Disconnected("not connected")
        try:
            await self._ws.send_str(packet)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise Disconnected(str(exc)) from exc

    async def close(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.send_str("41")
            with contextlib.suppress(Exception):
                await ws.close()
        if self._reader is not None:
            # wait() never raises: a reader that was cancelled must not cancel the closer.
            await asyncio.wait({self._reader})
        self._closed()
