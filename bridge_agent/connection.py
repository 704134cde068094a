"""The bridge's socket to the server, as an explicit state machine.

    disconnected -> connecting -> connected -> owner <-> superseded
         ^              |             |          |           |
         +-- backing_off+-------------+----------+-----------+        (any) -> stopped

``stopped`` is final: the server refused the token as ``revoked`` or told us
``device.unpaired``. Reconnects wait an exponential backoff with full jitter, reset once a
connection became owner. Socket.IO delivers at most once, so the runner reconciles over REST
every time this connection becomes owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import socketio

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 30
CALL_TIMEOUT_S = 10
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    OWNER = "owner"
    SUPERSEDED = "superseded"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"


_S = ConnectionState
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.DISCONNECTED: frozenset({_S.CONNECTING, _S.BACKING_OFF, _S.STOPPED}),
    _S.CONNECTING: frozenset({_S.CONNECTED, _S.BACKING_OFF, _S.STOPPED}),
    _S.CONNECTED: frozenset({_S.OWNER, _S.SUPERSEDED, _S.DISCONNECTED, _S.STOPPED}),
    _S.OWNER: frozenset({_S.OWNER, _S.SUPERSEDED, _S.DISCONNECTED, _S.STOPPED}),
    _S.SUPERSEDED: frozenset({_S.OWNER, _S.DISCONNECTED, _S.STOPPED}),
    _S.BACKING_OFF: frozenset({_S.CONNECTING, _S.STOPPED}),
    _S.STOPPED: frozenset(),
}


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Full jitter: uniform over [0, min(cap, base * 2**attempt)]."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
    return (rng or random).uniform(0, ceiling)


class NotOwner(Exception):
    """The socket is not connected as the device's owner right now."""


class Connection:
    def __init__(
        self,
        server: str,
        token: str,
        on_owner: Callable[[int], Awaitable[None]],
        on_job: Callable[[dict[str, Any]], Awaitable[None]],
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> None:
        self.server = server
        self._token = token
        self._on_owner = on_owner
        self._on_job = on_job
        self._heartbeat_interval_s = heartbeat_interval_s
        self._on_state = on_state  # told of every change of state (the agent's status file)
        self.state = ConnectionState.DISCONNECTED
        self.epoch: int | None = None
        self.stop_reason: str | None = None
        self._attempt = 0
        self._refusal: dict[str, Any] | None = None
        self._closed = asyncio.Event()
        self._stopping = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("connect", self._on_connect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("bridge.owner", self._on_bridge_owner)
        self.sio.on("superseded", self._on_superseded)
        self.sio.on("print_job.new", self._on_print_job_new)
        self.sio.on("device.unpaired", self._on_unpaired)

    def _move(self, to: ConnectionState) -> None:
        if to not in TRANSITIONS[self.state]:
            log.debug("ignored transition %s -> %s", self.state, to)
            return
        if to == self.state:
            return
        log.info("connection: %s -> %s", self.state, to)
        self.state = to
        if self._on_state is not None:
            self._on_state(to)

    # -- server events ----------------------------------------------------------------------

    async def _on_connect(self) -> None:
        self._move(ConnectionState.CONNECTED)

    async def _on_connect_error(self, data: Any) -> None:
        self._refusal = data if isinstance(data, dict) else {"message": str(data)}

    async def _on_disconnect(self, *_: Any) -> None:
        if self.state is not ConnectionState.STOPPED:
            self._move(ConnectionState.DISCONNECTED)
        self._closed.set()

    async def _on_bridge_owner(self, data: dict[str, Any]) -> None:
        self.epoch = int(data["epoch"])
        self._attempt = 0
        self._move(ConnectionState.OWNER)
        device_id = data.get("device_id")
        log.info(
            "owner of device %s at epoch %d",
            device_id,
            self.epoch,
            extra={"event": "device.owner", "device_id": device_id, "epoch": self.epoch},
        )
        await self._on_owner(self.epoch)

    async def _on_superseded(self, _data: Any = None) -> None:
        log.warning("superseded: another socket of this device took over; not printing here")
        self._move(ConnectionState.SUPERSEDED)

    async def _on_print_job_new(self, job: dict[str, Any]) -> None:
        if self.state is ConnectionState.OWNER:
            await self._on_job(job)

    async def _on_unpaired(self, _data: Any = None) -> None:
        self.stop("unpaired")

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        if self.state is not ConnectionState.STOPPED:
            log.warning("stopping for good: %s", reason)
        self.stop_reason = self.stop_reason or reason
        self._move(ConnectionState.STOPPED)
        self._stopping.set()

    @property
    def stopped(self) -> bool:
        return self.state is ConnectionState.STOPPED

    async def run(self) -> None:
        """Connect, stay connected, reconnect; return once stopped. Cancelled (the agent is
        stopping), it still closes the socket and its HTTP session before the loop ends."""
        try:
            await self._run()
        except asyncio.CancelledError:
            self.state = ConnectionState.STOPPED  # quietly: the disconnect below is expected
            raise
        finally:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()

    async def _run(self) -> None:
        while not self.stopped:
            self._move(ConnectionState.CONNECTING)
            self._refusal, self._closed = None, asyncio.Event()
            try:
                await self.sio.connect(
                    self.server,
                    auth={"token": self._token},
                    transports=["websocket"],
                    wait_timeout=CALL_TIMEOUT_S,
                )
            except (socketio.exceptions.ConnectionError, OSError) as exc:
                code = _refusal_code(self._refusal)
                if code in ("revoked", "unauthorized"):
                    self.stop(code)
                    break
                log.warning("cannot connect to %s: %s", self.server, exc)
            else:
                heartbeat = asyncio.create_task(self._heartbeat(), name="heartbeat")
                try:
                    await _first(self._closed.wait(), self._stopping.wait())
                finally:
                    heartbeat.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await heartbeat
                if self.stopped:
                    break
            await self._back_off()

    async def _back_off(self) -> None:
        self._move(ConnectionState.BACKING_OFF)
        delay = backoff_delay(self._attempt)
        self._attempt += 1
        log.info("reconnecting in %.1f s", delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval_s)
            try:
                ack = await self.sio.call("heartbeat", timeout=CALL_TIMEOUT_S)
            except Exception as exc:  # no answer: the connection is half-open; start over
                log.warning("heartbeat failed (%s); reconnecting", type(exc).__name__)
                await self.sio.disconnect()
                return
            if not isinstance(ack, dict) or "error" in ack:
                # The server is alive but cannot check the lock (its Redis is away): keep
                # going; a later heartbeat re-takes ownership and a reconcile follows.
                log.warning("heartbeat not confirmed: %s", ack)
            elif ack.get("owner") is False:
                self._move(ConnectionState.SUPERSEDED)

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if self.state is not ConnectionState.OWNER:
            raise NotOwner(self.state)
        ack = await self.sio.call(event, data, timeout=CALL_TIMEOUT_S)
        if not isinstance(ack, dict):
            raise NotOwner("unexpected acknowledgement")
        return ack

    async def emit(self, event: str, data: dict[str, Any]) -> None:
        if self.sio.connected:
            await self.sio.emit(event, data)


def _refusal_code(refusal: dict[str, Any] | None) -> str | None:
    if not refusal:
        return None
    data = refusal.get("data")
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return str(data["code"])
    message = refusal.get("message")
    return message if isinstance(message, str) else None


async def _first(*aws: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
