"""create_app(): REST and Socket.IO as one ASGI app; its lifespan owns the engine, Redis, the
owner locks, the control bus and the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app import json_codec
from app.body_limit import BodySizeLimit
from app.cloudprnt.endpoints import printer_router as cloudprnt_printer_router
from app.cloudprnt.endpoints import router as cloudprnt_router
from app.config import Settings
from app.coordination.bus import ControlBus, InMemoryBus, RedisBus
from app.coordination.owner_lock import InMemoryOwnerLocks, OwnerLocks, RedisOwnerLocks
from app.coordination.rate_limit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from app.coordination.watchers import InMemoryWatchRegistry, RedisWatchRegistry
from app.db import Database
from app.devices.endpoints import router as devices_router
from app.errors import Unauthorized, install_error_handlers
from app.locations.endpoints import router as locations_router
from app.observability import logs, metrics
from app.observability.readiness import OK as READY
from app.observability.readiness import readiness
from app.observability.telemetry import observed
from app.openapi_links import install_openapi
from app.print_jobs.endpoints import router as print_jobs_router
from app.print_jobs.fast_submit import FastSubmit
from app.print_jobs.render_endpoints import router as render_router
from app.print_jobs.rendering import render_limiter
from app.print_jobs.submission import Admission
from app.realtime import packets
from app.realtime.event_guard import EventLimits
from app.realtime.rooms_manager import LocalRoomsManager, PeerWatch, SharedRoomsManager
from app.realtime.server import Realtime
from app.realtime.websocket_loop import QuickSocketServer
from app.schemas_common import Output
from app.sweeper import Sweeper
from app.tenants.endpoints import router as tenants_router
from app.web import install_web
from app.webhooks.endpoints import router as webhooks_router
from app.webhooks.sender import WebhookSender

SOCKETIO_CHANNEL = "printrelay:socketio"
REDIS_MAX_CONNECTIONS = 100
REDIS_POOL_WAIT_S = 10.0


class Health(Output):
    status: str


class Readiness(Output):
    status: str
    checks: dict[str, str]


def _socket_server(settings: Settings) -> socketio.AsyncServer:
    manager: socketio.AsyncManager = LocalRoomsManager()
    if settings.redis_url:
        # Rooms and emits shared by every server process.
        manager = SharedRoomsManager(settings.redis_url, channel=SOCKETIO_CHANNEL)
    return QuickSocketServer(
        async_mode="asgi",
        client_manager=manager,
        serializer=packets.Packet,
        json=json_codec,
        cors_allowed_origins=settings.socket_origins(),
        ping_interval=settings.socket_ping_interval_s,
        ping_timeout=settings.socket_ping_timeout_s,
        max_http_buffer_size=settings.socket_max_message_bytes,
        event_limits=EventLimits(
            in_flight=settings.socket_events_in_flight,
            queued_bytes=settings.socket_events_queued_bytes,
            rate_per_s=settings.socket_event_rate_per_s,
            burst=settings.socket_event_burst,
        ),
        logger=False,
        engineio_logger=False,
    )


def _coordination(settings: Settings) -> tuple[Any, OwnerLocks, ControlBus]:
    if not settings.redis_url:
        return None, InMemoryOwnerLocks(), InMemoryBus()
    from app.coordination.redis_client import redis_client

    # A burst (thousands of bridges disconnecting at once) waits for a pooled connection
    # instead of failing with "Too many connections" as the default pool does past 100.
    redis = redis_client(settings.redis_url, REDIS_MAX_CONNECTIONS, REDIS_POOL_WAIT_S)
    return redis, RedisOwnerLocks(redis), RedisBus(redis)


def _limiters(settings: Settings, redis: Any) -> dict[str, RateLimiter]:
    """Pairing per client address and globally, job submission per API key, renders per
    credential (API key or device), CloudPRNT requests per printer URL."""
    windows = {
        "pair_address": (settings.pairing_rate_limit, settings.pairing_rate_window_s),
        "pair_global": (settings.pairing_global_rate_limit, settings.pairing_rate_window_s),
        "submit_key": (settings.job_submit_rate_limit, 60.0),
        "render_principal": (settings.render_rate_limit, 60.0),
        "cloudprnt_printer": (settings.cloudprnt_rate_limit, 60.0),
    }
    if redis is None:
        return {
            name: InMemoryRateLimiter(limit, window) for name, (limit, window) in windows.items()
        }
    return {
        name: RedisRateLimiter(redis, limit, window, prefix=f"printrelay:rl:{name}")
        for name, (limit, window) in windows.items()
    }


# Container objects allocated (net) before a young collection; Python's default is 700. A
# request allocates hundreds and frees nearly all by reference counting, so at 700 the
# collector ran every job or two, and every 100th run was a full collection. Closed loop,
# alternated three times: API process 0.93-0.94 -> 0.89-0.90 ms per job, collections of
# 1 ms or more per 15 s window 12 -> 0. Cyclic garbage waits a little longer to be freed.
GC_YOUNG_THRESHOLD = 20_000


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, mappers, schemas, routes: about 130,000
    objects) out of the garbage collector's sight, and collect the young generation less
    often (``GC_YOUNG_THRESHOLD``). A full collection used to walk them all, stalling the
    event loop for about 75 ms every few seconds under load (the p99 of the bench's open loop
    was made of those stalls). They live as long as the process anyway."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def create_app(
    settings: Settings | None = None,
    *,
    run_sweeper: bool = True,
    run_webhook_sender: bool | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    settings = settings or Settings()
    settings.check_startable()
    sio = _socket_server(settings)
    realtime = Realtime(sio, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis, locks, bus = _coordination(settings)
        db = Database.from_url(
            settings.async_database_url, event_sink=observed(realtime.publisher.publish)
        )
        app.state.db = db
        app.state.redis = redis
        if settings.hot_path:
            await db.open_hot_path()
        if redis is not None:  # limits shared by every process
            app.state.limiters = _limiters(settings, redis)
        watchers = RedisWatchRegistry(redis) if redis is not None else InMemoryWatchRegistry()
        await realtime.start(db, locks, bus, watchers)
        peers = None
        if isinstance(bus, RedisBus) and isinstance(sio.manager, SharedRoomsManager):
            peers = PeerWatch(redis, bus, sio.manager)
            await peers.start()
        sweeper_task = None
        if run_sweeper:
            sweeper = Sweeper(db, settings.sweep_interval_s, settings.owner_lock_ttl_s)
            sweeper_task = asyncio.create_task(sweeper.run_forever(), name="sweeper")
        sender, sender_task = None, None
        if run_sweeper if run_webhook_sender is None else run_webhook_sender:
            sender = WebhookSender(db, settings)
            sender_task = asyncio.create_task(sender.run_forever(), name="webhook-sender")
        if freeze_gc:
            freeze_startup_objects()
        try:
            yield
        finally:
            logs.write_through()  # a SIGTERM'd uvicorn is killed by the signal, not by atexit
            if sweeper_task is not None:
                sweeper_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper_task
            if sender_task is not None and sender is not None:
                sender_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender_task
                await sender.close()
            if peers is not None:
                await peers.stop()
            await realtime.stop()
            await bus.close()
            await locks.close()
            if redis is not None:
                await redis.aclose()
            await db.dispose()
            metrics.process_exited()

    app = FastAPI(
        title="Printrelay",
        version="0.1.0",
        summary="Gets every job from a web POS to the right thermal printer exactly once.",
        lifespan=lifespan,
        # Operation IDs are the endpoint names (``submit_job``), which the schema's links use.
        generate_unique_id_function=lambda route: route.name,
        # /docs is served from vendored files (app.web): FastAPI's own loads a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sio = sio
    app.state.realtime = realtime
    app.state.principal_cache = realtime.principal_cache
    app.state.redis = None
    app.state.limiters = _limiters(settings, None)
    app.state.admission = Admission(settings.max_submissions_in_flight)
    app.state.render_limiter = render_limiter()
    install_error_handlers(app)
    install_openapi(app)
    routers = (
        tenants_router,
        locations_router,
        devices_router,
        cloudprnt_router,
        cloudprnt_printer_router,
        print_jobs_router,
        render_router,
        webhooks_router,
    )
    for router in routers:
        app.include_router(router)
    install_web(app)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """Liveness: 200 while the process runs, whatever it can reach."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["health"],
        responses={503: {"model": Readiness, "description": "a check failed"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 when the database and (when configured) Redis answer within
        a short deadline each, else 503 naming the check that failed."""
        checks = await readiness(request.app.state.db, request.app.state.redis)
        ready = all(result == READY for result in checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus text; with PRINTRELAY_METRICS_TOKEN set, it needs that bearer token."""
        token = settings.metrics_token
        if token is not None and not metrics.token_matches(
            token, request.headers.get("authorization")
        ):
            raise Unauthorized("Send the metrics token as a bearer token.")
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    # Added first, so it runs inside the body limit: valid submissions skip the router.
    app.add_middleware(FastSubmit)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(metrics.HttpMetrics)  # outermost: every answer is counted
    return app


def create_asgi_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """What `printrelay serve` runs: Socket.IO at /socket.io, everything else to FastAPI
    (lifespan included)."""
    logs.lean_log_records()
    app = create_app(settings, freeze_gc=True)
    return socketio.ASGIApp(app.state.sio, other_asgi_app=app, socketio_path="socket.io")
