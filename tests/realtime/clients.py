"""Real python-socketio clients over a real websocket, recording what they receive."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

SERVER_EVENTS = (
    "bridge.owner",
    "superseded",
    "print_job.new",
    "device.unpaired",
    "api_key.revoked",
    "print_job.updated",
    "device.status",
    "printer.status",
)
WAIT_S = 10.0


class Refused(Exception):
    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.data = data


class SocketClient:
    def __init__(self, base_url: str, auth: dict[str, str]) -> None:
        self.base_url = base_url
        self.auth = auth
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()
        self.connect_error: Any = None
        self.disconnected = asyncio.Event()
        for name in SERVER_EVENTS:
            self.sio.on(name, self._recorder(name))
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            async with self._changed:
                self.received.append((name, data))
                self._changed.notify_all()

        return record

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_error = data

    async def _on_disconnect(self, *_: Any) -> None:
        self.disconnected.set()

    async def connect(self) -> SocketClient:
        try:
            await self.sio.connect(
                self.base_url, auth=self.auth, transports=["websocket"], wait_timeout=WAIT_S
            )
        except socketio.exceptions.ConnectionError as exc:
            raise Refused(self.connect_error) from exc
        return self

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()

    async def call(self, event: str, data: Any = None, timeout_s: float = WAIT_S) -> Any:
        return await self.sio.call(event, data, timeout=timeout_s)

    def of(self, name: str) -> list[Any]:
        return [data for n, data in self.received if n == name]

    async def wait_for(self, name: str, count: int = 1) -> list[Any]:
        """Wait (up to WAIT_S) until ``count`` events ``name`` arrived; return all of them."""
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(lambda: len(self.of(name)) >= count)
        return self.of(name)

    async def quiet(self, name: str, settle_s: float = 0.5) -> list[Any]:
        """What arrived of ``name`` after waiting a moment (for 'receives nothing' checks)."""
        await asyncio.sleep(settle_s)
        return self.of(name)


def bridge(base_url: str, token: str) -> SocketClient:
    return SocketClient(base_url, {"token": token})


def watcher(base_url: str, api_key: str) -> SocketClient:
    return SocketClient(base_url, {"api_key": api_key})
