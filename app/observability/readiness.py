"""``/readyz``: does this process reach what it needs to serve (the database, and Redis when
configured)? ``/healthz`` only says the process runs (liveness); a load balancer or compose
healthcheck that asks ``/readyz`` stops sending traffic to a process cut off from either.

Each check has a short deadline of its own (``READY_CHECK_TIMEOUT_S``), so a server that hangs
instead of refusing (a paused Redis, a firewall dropping packets) answers 503 in about that long.
A failed check is named with its exception's type only: a message can hold a URL and its password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from app.db import Database

READY_CHECK_TIMEOUT_S = 2.0
OK = "ok"


async def _database(db: Database) -> None:
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(probe: Callable[[], Awaitable[Any]], timeout_s: float) -> str:
    try:
        await asyncio.wait_for(probe(), timeout_s)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # whatever the client raises: the check failed, say which way
        return f"error: {type(exc).__name__}"
    return OK


async def readiness(
    db: Database, redis: Any | None, timeout_s: float = READY_CHECK_TIMEOUT_S
) -> dict[str, str]:
    """Each check's result (``ok``, ``timeout`` or ``error: <type>``), run side by side."""
    probes: dict[str, Callable[[], Awaitable[Any]]] = {"database": lambda: _database(db)}
    if redis is not None:
        probes["redis"] = redis.ping
    results = await asyncio.gather(*(_check(p, timeout_s) for p in probes.values()))
    return dict(zip(probes, results, strict=True))
