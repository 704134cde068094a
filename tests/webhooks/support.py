"""What the webhook tests share: settings for a fast sender, an app with the sender running,
a database parameter, and waiting for what a receiver's thread or the sender writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI

from app.config import Environment, Settings
from app.main import create_app
from tests.world import ADMIN_TOKEN, World

WAIT_S = 60  # a bound on a hung test, not a measured time

# sqlite, postgres with the hot path, postgres through the general (ORM) path
ALL_DATABASES = pytest.mark.parametrize(
    "database_url",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-general", marks=pytest.mark.postgres),
    ],
    indirect=True,
)


def sender_settings(database_url: str, **overrides: Any) -> Settings:
    """Production settings whose sender polls and backs off in hundredths of a second, and
    may send to the loopback receiver."""
    values: dict[str, Any] = {
        "env": Environment.PRODUCTION,
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "redis_url": None,
        "webhook_allow_private": True,
        "webhook_backoff_base_s": 0.01,
        "webhook_backoff_cap_s": 0.05,
        "webhook_poll_interval_s": 0.02,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def app_with_sender(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, run_sweeper=False, run_webhook_sender=True)
    async with application.router.lifespan_context(application):
        yield application


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110 (set by the receiver's thread)
            await asyncio.sleep(0.02)


async def attempts_of(
    world: World, hook: str, manager: dict[str, str], *, at_least: int
) -> list[dict[str, Any]]:
    """The webhook's delivery log once it holds ``at_least`` attempts."""
    async with asyncio.timeout(WAIT_S):
        while True:
            r = await world.client.get(f"/v1/webhooks/{hook}/deliveries", headers=manager)
            items: list[dict[str, Any]] = r.json()["items"]
            if len(items) >= at_least:
                return items
            await asyncio.sleep(0.02)
