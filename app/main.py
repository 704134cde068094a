"""create_app(): one ASGI app; its lifespan owns the engine and the background sweeper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.body_limit import BodySizeLimit
from app.config import Settings
from app.coordination.rate_limit import InMemoryRateLimiter
from app.db import Database
from app.devices.endpoints import router as devices_router
from app.errors import install_error_handlers
from app.locations.endpoints import router as locations_router
from app.print_jobs.endpoints import router as print_jobs_router
from app.schemas_common import Output
from app.sweeper import Sweeper
from app.tenants.endpoints import router as tenants_router


class Health(Output):
    status: str


def create_app(settings: Settings | None = None, *, run_sweeper: bool = True) -> FastAPI:
    settings = settings or Settings()
    settings.check_startable()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_url(settings.async_database_url)
        app.state.db = db
        sweeper_task = None
        if run_sweeper:
            sweeper = Sweeper(db, settings.sweep_interval_s)
            sweeper_task = asyncio.create_task(sweeper.run_forever(), name="sweeper")
        try:
            yield
        finally:
            if sweeper_task is not None:
                sweeper_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper_task
            await db.dispose()

    app = FastAPI(
        title="Printrelay",
        version="0.1.0",
        summary="Gets every job from a web POS to the right thermal printer exactly once.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pairing_limiter = InMemoryRateLimiter(
        settings.pairing_rate_limit, settings.pairing_rate_window_s
    )
    install_error_handlers(app)
    for router in (tenants_router, locations_router, devices_router, print_jobs_router):
        app.include_router(router)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        return Health(status="ok")

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
