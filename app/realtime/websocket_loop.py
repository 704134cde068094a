"""Engine.IO's websocket loop with one task per direction instead of one per message.

python-engineio reads each websocket message as a new task awaited under ``asyncio.wait_for``,
and its writer waits for each outgoing packet under another ``wait_for`` (which, before Python
3.12, wraps the wait in a task of its own): per message, a task, a timer and a future or two
are made and thrown away, only to give up on a client that has been silent for
``ping_interval + ping_timeout``. A printed job is five messages on its bridge's socket
(``print_job.new``, the claim and its answer, the report and its answer).

``QuickSocket`` keeps the loop and its behaviour (the same limits, the same ways to end, the
same close) and awaits the websocket and the outgoing queue directly. Each direction's waits
are timed by one timer (``SilenceWatch``) that is re-armed only when it fires: it cancels its
task once a single wait has lasted the whole limit, exactly where ``wait_for`` would have given
up.

A socket that starts with long-polling and upgrades takes python-engineio's own loop (its
upgrade handshake is involved and rare: our agent and the bench connect straight over the
websocket). python-socketio still runs each event handler as a task of its own, so one
socket's slow claim does not hold up its next message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import engineio
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from app.realtime.event_guard import GuardedServer

T = TypeVar("T")


class SilenceWatch:
    """Cancels ``task`` when one of its waits has lasted ``limit`` seconds.

    The task calls ``begin()`` before each wait (a clock read) and ``end()`` after it. The
    timer is re-armed only when it fires early, so a busy socket pays about one timer per
    ``limit`` instead of one per message. Outside a wait the timer never cancels the task.
    """

    def __init__(self, task: asyncio.Task[Any], limit: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = task
        self.limit = limit
        self.since = self.loop.time()
        self.waiting = False
        self.expired = False
        self.handle: asyncio.TimerHandle | None = self.loop.call_at(self.since + limit, self._check)

    @classmethod
    def of_this_task(cls, limit: float) -> SilenceWatch:
        task = asyncio.current_task()
        assert task is not None
        return cls(task, limit)

    def begin(self) -> None:
        self.since = self.loop.time()
        self.waiting = True

    def end(self) -> None:
        self.waiting = False

    def _check(self) -> None:
        due = self.since + self.limit
        now = self.loop.time()
        if self.waiting and now >= due:
            self.expired = True
            self.handle = None
            self.task.cancel()
            return
        # A wait began since (or none is going on): look again when this one could be up.
        self.handle = self.loop.call_at(due if self.waiting else now + self.limit, self._check)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    async def watch(self, waiting: Awaitable[T]) -> T:
        """``waiting``'s result, timed as one wait; ``WaitEnded`` if it was cancelled: silent
        for the whole limit (this watch's cancel, answered here so that later timeouts in the
        task still work), or the server shutting down. python-engineio's loops end the
        connection in both cases."""
        self.begin()
        try:
            return await waiting
        except asyncio.CancelledError:
            if self.expired:
                self.task.uncancel()
            raise WaitEnded from None
        finally:
            self.end()


class WaitEnded(Exception):
    """A ``SilenceWatch.watch`` cancelled: the connection's loop ends."""


class QuickSocket(AsyncSocket):  # type: ignore[misc]
    # Set by event_guard when it refuses the socket: its connection ends without a closing
    # handshake (see ``_write``).
    refused = False

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:  # type: ignore[has-type]  # an upgrade from long-polling
            await super()._websocket_handler(ws)
            return
        self.connected = True
        self.upgraded = True
        server = self.server
        limit = server.ping_interval + server.ping_timeout
        writer_task = asyncio.ensure_future(self._write(ws, limit))
        silence = SilenceWatch.of_this_task(limit)
        try:
            while True:
                try:
                    data = await silence.watch(ws.wait())
                except Exception:  # WaitEnded, or the client went away (OSError), ...
                    break
                if data is None:  # connection closed by client
                    break
                if len(data) > server.max_http_buffer_size:  # python-engineio: too large
                    break
                try:
                    await self.receive(packet.Packet(encoded_packet=data))
                except exceptions.UnknownPacketError:  # pragma: no cover
                    pass
                except exceptions.SocketIsClosedError:  # pragma: no cover
                    server.logger.info("Receive error -- socket is closed")
                    break
                except Exception:  # pragma: no cover
                    server.logger.exception("Unknown receive error")
                if self.closed:  # refused (event_guard): stop reading what it sends
                    break
        finally:
            silence.stop()
        await self.queue.put(None)  # the writer ends when it reaches this
        await writer_task
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)

    async def _write(self, ws: Any, limit: float) -> None:
        """python-engineio's writer: sends what is queued, in order, until the reader's ``None``
        or ``limit`` seconds without anything to send; then closes the websocket."""
        queue = self.queue
        silence = SilenceWatch.of_this_task(limit)
        try:
            while True:
                try:
                    pkt = await silence.watch(queue.get())
                except WaitEnded:  # nothing to send for too long, or shutdown
                    break
                queue.task_done()
                if pkt is None:
                    break
                try:
                    await ws.send(pkt.encode())
                except Exception:
                    break
        finally:
            silence.stop()
        if self.refused:
            # uvicorn answers websocket.close by reading (and discarding) what the client still
            # sends, for up to 10 s: a flooder's megabytes. Returning without it makes uvicorn
            # close the connection at once, after sending what was written.
            return
        await ws.close()


class QuickEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        # python-engineio makes every socket an AsyncSocket in _handle_connect and announces
        # it with this event before its transport runs; it becomes a QuickSocket here (same
        # state, the loop above). Only the exact class: anything else is left alone.
        if event == "connect":
            sock = self.sockets.get(args[0])
            if type(sock) is AsyncSocket:
                sock.__class__ = QuickSocket
        return await super()._trigger_event(event, *args, **kwargs)


class QuickSocketServer(GuardedServer):
    """python-socketio's server over ``QuickEngineServer``, its events guarded."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return QuickEngineServer
