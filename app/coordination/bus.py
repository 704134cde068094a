"""Control messages every server process must act on (an unpaired device's sockets live on
whichever process they connected to). Redis pub/sub across processes; direct calls in one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Every server process subscribes to it for its whole life: its subscriber count is also the
# number of live server processes (app.realtime.rooms_manager reads it).
CONTROL_CHANNEL = "printrelay:control"
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class ControlBus(Protocol):
    async def start(self, handler: Handler) -> None: ...

    async def publish(self, message: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class InMemoryBus:
    def __init__(self) -> None:
        self._handler: Handler | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler

    async def publish(self, message: dict[str, Any]) -> None:
        if self._handler is not None:
            await self._handler(message)

    async def close(self) -> None:
        self._handler = None


class RedisBus:
    RECONNECT_DELAY_S = 1.0

    def __init__(self, redis: Any, channel: str = CONTROL_CHANNEL) -> None:
        self._redis = redis
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.listening = False  # subscribed right now (False while resubscribing)

    async def start(self, handler: Handler) -> None:
        self._task = asyncio.create_task(self._listen(handler), name="control-bus")
        # Wait (briefly) until subscribed, so a message published right after start is not lost.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def publish(self, message: dict[str, Any]) -> None:
        await self._redis.publish(self._channel, json.dumps(message))

    async def _listen(self, handler: Handler) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    self.listening = True
                    async for raw in pubsub.listen():
                        if raw.get("type") != "message":
                            continue
                        try:
                            await handler(json.loads(raw["data"]))
                        except Exception:
                            log.exception("control message failed")
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception as exc:  # Redis restarted: resubscribe
                self.listening = False
                log.warning("control bus lost Redis (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(self.RECONNECT_DELAY_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
