"""What a socket may send before its events reach the handlers.

- Binary packets are refused: the protocol has none, and python-socketio buffers a binary
  event's attachments (as many as its header announces) until the last one arrives. The
  socket is disconnected at the header, before any attachment is kept. Malformed packets
  and Engine.IO binary messages are refused the same way.
- Each socket has a budget (``EventBudget``): at most ``in_flight`` events being handled at
  once (each may hold a database connection, so one socket cannot queue hundreds of
  transactions in front of everyone else's), ``queued_bytes`` more waiting their turn, and
  ``rate_per_s`` events a second (bursts up to ``burst``). An event past it is answered at
  once with ``rate_limited`` without running its handler (no task, no transaction); a
  socket that keeps sending while refused, ``burst`` events past its budget, is dropped.
- Every event is answered: a handler gets exactly one payload (``None`` when none was sent),
  an unknown or reserved event name (``connect``, ``disconnect``) and a handler's unexpected
  error are answered in the contract's error shape instead of a missing ack and a traceback.

All of it works on decoded Socket.IO packets, so it holds for every transport (websocket,
long-polling, and a socket upgraded from one to the other). The per-event cost is a dict
lookup, a clock read and a few comparisons (about a microsecond).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import socketio
from engineio.exceptions import SocketIsClosedError
from pydantic import ValidationError
from socketio import packet
from socketio.async_server import task_reference_holder

from app.errors import AppError, is_database_unavailable
from app.log_safe import quoted
from app.realtime.messages import ack_for, error_ack

log = logging.getLogger(__name__)

NAMESPACE = "/"  # the only one the protocol uses
# Socket.IO packet types refused: the binary event and the binary ack.
BINARY_PACKET_TYPES = ("5", "6")
# Names python-socketio gives its own handlers: a client emitting them must not run those.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


@dataclass(frozen=True, slots=True)
class EventLimits:
    # Events of one socket being handled at once. The agent has one at a time, a watcher a
    # few; each may hold a database connection while every other request queues behind
    # them (SQLite has one connection, PostgreSQL's pool 20).
    in_flight: int = 8
    # More events of one socket waiting for one of those (a burst of claims), by their size:
    # they hold no task and no connection, only memory. About 2,500 claims.
    queued_bytes: int = 256 * 1024
    rate_per_s: float = 500.0  # events a second, sustained
    burst: int = 1000  # events at once after a quiet spell; also the debt that drops a socket


class Verdict(enum.Enum):
    RUN = "run"
    QUEUE = "queue"  # run when one of the socket's events is done
    REFUSE = "refuse"  # answered with rate_limited
    DROP = "drop"  # disconnected


@dataclass(slots=True)
class EventBudget:
    """A token bucket, a count of events being handled and a short queue, for one socket.

    Every event takes a token, refused ones too, so tokens go negative while a socket keeps
    sending past its budget; at ``-burst`` it is dropped. A client that waits for its answers
    and slows down when refused never gets near that.
    """

    limits: EventLimits
    tokens: float
    stamp: float
    in_flight: int = 0
    waiting: deque[tuple[int, tuple[Any, ...]]] = field(default_factory=deque)
    waiting_bytes: int = 0

    @classmethod
    def full(cls, limits: EventLimits, now: float) -> EventBudget:
        return cls(limits, float(limits.burst), now)

    def take(self, now: float, size: int) -> Verdict:
        """The verdict on an event of ``size`` bytes; on ``QUEUE`` the caller ``wait``s it."""
        limits = self.limits
        tokens = min(float(limits.burst), self.tokens + (now - self.stamp) * limits.rate_per_s)
        self.stamp = now
        tokens -= 1.0
        self.tokens = tokens
        if tokens >= 0.0:
            if self.in_flight < limits.in_flight:
                self.in_flight += 1
                return Verdict.RUN
            if self.waiting_bytes + size <= limits.queued_bytes:
                return Verdict.QUEUE
        elif tokens < -limits.burst:
            return Verdict.DROP
        return Verdict.REFUSE

    def wait(self, event: tuple[Any, ...], size: int) -> None:
        self.waiting.append((size, event))
        self.waiting_bytes += size

    def done(self) -> tuple[Any, ...] | None:
        """An event ended: the next waiting one, which takes its place, if any."""
        if self.waiting:
            size, event = self.waiting.popleft()
            self.waiting_bytes -= size
            return event
        self.in_flight -= 1
        return None


def answer_for_error(exc: Exception) -> dict[str, Any]:
    """The ack for a handler's exception: its own code when it has one, else internal_error."""
    if isinstance(exc, AppError | ValidationError) or is_database_unavailable(exc):
        return ack_for(exc)
    return error_ack("internal_error", "Internal server error.")


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server with the guards above in front of its event handlers."""

    def __init__(self, *args: Any, event_limits: EventLimits | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.event_limits = event_limits or EventLimits()
        self.budgets: dict[str, EventBudget] = {}  # by Engine.IO sid
        self._refusal = error_ack(
            "rate_limited",
            f"Too many events on this socket (at most "
            f"{self.event_limits.in_flight} handled at once and "
            f"{self.event_limits.queued_bytes // 1024} KiB waiting, "
            f"{self.event_limits.rate_per_s:g} a second): wait for answers and retry.",
        )

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        # python-socketio's dispatch, without the binary branch.
        if type(data) is not str or data[:1] in BINARY_PACKET_TYPES:
            await self.refuse_socket(eio_sid, "sent a binary packet")
            return
        try:
            pkt = self.packet_class(encoded_packet=data)
        except ValueError:  # bad JSON, a bad header
            await self.refuse_socket(eio_sid, "sent a malformed packet")
            return
        kind = pkt.packet_type
        if kind == packet.EVENT:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data, len(data))
        elif kind == packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif kind == packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif kind == packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        else:
            await self.refuse_socket(eio_sid, "sent an unexpected packet")

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self.budgets.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def refuse_socket(self, eio_sid: str, why: str) -> None:
        """Disconnect a socket that broke the protocol: a Socket.IO disconnect (the client
        does not reconnect by itself), then the Engine.IO close. What it sends after that
        reaches no handler and is not kept."""
        sid = self.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        log.warning("socket %s refused: %s", sid or eio_sid, why)
        self.budgets.pop(eio_sid, None)
        if sid is not None and self.manager.is_connected(sid, NAMESPACE):
            await self.disconnect(sid, ignore_queue=True)
        sock = self.eio.sockets.get(eio_sid)
        if sock is not None:
            sock.refused = True  # a QuickSocket drops the connection at once
            await sock.close(wait=False)

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: Any, data: Any, size: int = 0
    ) -> None:
        namespace = namespace or NAMESPACE
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return
        now = asyncio.get_running_loop().time()
        budget = self.budgets.get(eio_sid)
        if budget is None:
            budget = self.budgets[eio_sid] = EventBudget.full(self.event_limits, now)
        verdict = budget.take(now, size)
        if verdict is Verdict.RUN:
            self._start(budget, (sid, eio_sid, data, namespace, id))
        elif verdict is Verdict.QUEUE:
            budget.wait((sid, eio_sid, data, namespace, id), size)
        elif verdict is Verdict.REFUSE:
            if id is not None:
                await self._ack(eio_sid, namespace, id, self._refusal)
        else:
            await self.refuse_socket(eio_sid, "kept sending past its event budget")

    def _start(self, budget: EventBudget, event: tuple[Any, ...]) -> None:
        task = self.start_background_task(self._run_event, budget, *event)
        task_reference_holder.add(task)
        task.add_done_callback(task_reference_holder.discard)

    async def _run_event(
        self, budget: EventBudget, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        try:
            answer = await self._answer(sid, data, namespace)
        finally:
            following = budget.done()
            if following is not None:
                if self.manager.is_connected(sid, namespace):
                    self._start(budget, following)
                else:  # gone: what it left waiting is dropped
                    budget.waiting.clear()
                    budget.waiting_bytes = 0
        if id is not None:
            await self._ack(eio_sid, namespace, id, answer)

    async def _answer(self, sid: str, data: Any, namespace: str) -> Any:
        if type(data) is not list or not data or type(data[0]) is not str:
            return error_ack("validation_error", "An event is [name] or [name, payload].")
        event = data[0]
        handler = self.handlers.get(namespace, {}).get(event)
        if handler is None or event in RESERVED_EVENTS:
            return error_ack("not_found", f"No event named {quoted(event, 64)}.")
        if len(data) > 2:
            return error_ack("validation_error", "Send one payload (an object) per event.")
        try:
            answer = handler(sid, data[1] if len(data) == 2 else None)
            if inspect.isawaitable(answer):
                answer = await answer
            return answer
        except Exception as exc:
            reply = answer_for_error(exc)
            if reply["error"]["code"] == "internal_error":
                log.exception("event %s of %s failed", quoted(event, 64), sid)
            return reply

    async def _ack(self, eio_sid: str, namespace: str, id: Any, answer: Any) -> None:
        # python-socketio's ack: None is an empty answer, a tuple is several arguments.
        if answer is None:
            data = []
        elif isinstance(answer, tuple):
            data = list(answer)
        else:
            data = [answer]
        with contextlib.suppress(SocketIsClosedError):  # the client left meanwhile
            await self._send_packet(
                eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=data)
            )
