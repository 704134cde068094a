"""python-socketio's Redis manager, without the round trip when no other process listens.

With Redis, every emit is delivered to this process's sockets at once and also published, so
that the sockets of other server processes get it too; every process, this one included, then
reads the message back. A process that is the only one running pays a publish and a read for
nothing on every emit (``print_job.new`` for each job, ``print_job.updated`` for watched ones).

``PeerWatch`` counts the live server processes every ``CHECK_EVERY_S``: each one subscribes to
the control channel for its whole life, so that channel's subscriber count is the number of
processes. After a count that found only this process, emits skip the publish for
``ALONE_VALID_S``. A process that starts while another runs waits ``JOIN_WAIT_S`` (longer than
that validity) after subscribing before it serves anyone, so by the time a socket can join a
room on it, every other process has stopped skipping. When anything is in doubt (the count
failed, the control subscription is down, the loop was too busy to count on time), emits are
published as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from app.coordination.bus import CONTROL_CHANNEL, RedisBus

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.2
ALONE_VALID_S = 0.4  # after the count was asked
JOIN_WAIT_S = 0.8  # > ALONE_VALID_S, with room for a busy event loop
SUBSCRIBE_WAIT_S = 5.0


async def deliver_here(
    manager: socketio.AsyncManager,
    event: str,
    data: Any,
    namespace: str,
    room: Any,
    skip_sid: Any = None,
) -> None:
    """python-socketio's local delivery of an emit without a callback (``AsyncManager.emit``),
    with one difference: a single recipient, the usual case (a station's bridge, a socket by
    its sid), gets the packet without a task of its own. python-socketio makes a task per
    recipient and waits for them all with ``asyncio.wait``; for one recipient that is the
    same wait with a task, a future and callbacks around it. Several recipients still get
    their tasks, so a socket found dead (whose close runs the disconnect handler) holds up no
    other."""
    skips = skip_sid if isinstance(skip_sid, list) else [skip_sid]
    recipients = [
        eio_sid for sid, eio_sid in manager.get_participants(namespace, room) if sid not in skips
    ]
    if not recipients:  # python-socketio would walk the room again to find nobody
        return
    if len(recipients) > 1:
        await socketio.AsyncManager.emit(
            manager, event, data, namespace, room=room, skip_sid=skip_sid
        )
        return
    if isinstance(data, tuple):  # as python-socketio: a tuple is several arguments
        data = list(data)
    elif data is not None:
        data = [data]
    else:
        data = []
    server = manager.server
    encoded = server.packet_class(
        sio_packet.EVENT, namespace=namespace, data=[event, *data]
    ).encode()
    for part in encoded if isinstance(encoded, list) else [encoded]:
        try:
            await server._send_eio_packet(
                recipients[0], eio_packet.Packet(eio_packet.MESSAGE, part)
            )
        except eio_exceptions.SocketIsClosedError:
            return  # closed since it was in the room: python-socketio's task would fail too
        except Exception:
            log.exception("emitting %s failed", event)
            return


class LocalRoomsManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's in-process rooms (the embedded default), emits by ``deliver_here``."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> Any:
        if callback is None and namespace in self.rooms:
            return await deliver_here(self, event, data, namespace, to or room, skip_sid)
        return await super().emit(
            event, data, namespace, room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )


class SharedRoomsManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel)
        self.alone_until = 0.0  # time.monotonic(); before it, emits are not published

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> Any:
        # python-socketio's server passes ignore_queue (False) with every emit; either way
        # the delivery is local only.
        if (
            callback is None
            and kwargs.keys() <= {"ignore_queue"}
            and time.monotonic() < self.alone_until
        ):
            # Alone: what python-socketio's emit does here comes down to this local delivery
            # (its message to the other processes would reach nobody), without its walk of
            # the data for bytes, its message, and its publish.
            return await deliver_here(self, event, data, namespace or "/", to or room, skip_sid)
        return await super().emit(
            event, data, namespace, room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )

    async def _publish(self, data: dict[str, Any]) -> Any:
        if data.get("method") == "emit" and time.monotonic() < self.alone_until:
            return None  # delivered locally already; nobody else listens
        return await super()._publish(data)

    def start_listening(self) -> None:
        """Subscribe now rather than at the first connection, as python-socketio would: a
        socket must not join a room before this process hears other processes' emits."""
        server = self.server
        if not server.manager_initialized:
            server.manager_initialized = True
            self.initialize()

    async def wait_subscribed(self) -> None:
        deadline = time.monotonic() + SUBSCRIBE_WAIT_S
        while time.monotonic() < deadline:
            pubsub = self.pubsub
            if pubsub is not None and pubsub.channels:
                return
            await asyncio.sleep(0.01)
        log.warning("the Socket.IO channel was not subscribed within %s s", SUBSCRIBE_WAIT_S)


class PeerWatch:
    """Keeps ``manager.alone_until`` current from the number of live server processes."""

    def __init__(self, redis: Any, bus: RedisBus, manager: SharedRoomsManager) -> None:
        self.redis = redis
        self.bus = bus
        self.manager = manager
        self._task: asyncio.Task[None] | None = None
        self._counting_failed = False  # logged once per outage, not five times a second

    async def start(self) -> None:
        """Call once this process's control subscription is up, before serving."""
        self.manager.start_listening()
        await self.manager.wait_subscribed()
        if await self._others() != 0:
            # Others may be skipping their publishes, counted before this process existed.
            await asyncio.sleep(JOIN_WAIT_S)
        self._task = asyncio.create_task(self._run(), name="peer-watch")

    async def stop(self) -> None:
        self.manager.alone_until = 0.0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _others(self) -> int | None:
        """Server processes besides this one; None when unknown."""
        if not self.bus.listening:
            return None
        try:
            counts = await self.redis.pubsub_numsub(CONTROL_CHANNEL)
        except Exception as exc:
            if not self._counting_failed:
                log.warning(
                    "counting server processes failed (%s); publishing every emit until it "
                    "works again",
                    type(exc).__name__,
                )
            self._counting_failed = True
            return None
        self._counting_failed = False
        listeners = int(counts[0][1]) if counts else 0
        return listeners - 1

    async def count_once(self) -> None:
        asked_at = time.monotonic()
        others = await self._others()
        # Checked again: the control subscription may have dropped during the count.
        if others == 0 and self.bus.listening:
            self.manager.alone_until = asked_at + ALONE_VALID_S
        else:
            self.manager.alone_until = 0.0

    async def _run(self) -> None:
        while True:
            await self.count_once()
            await asyncio.sleep(CHECK_EVERY_S)
