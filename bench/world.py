"""What a bench run needs on the server, made through the public REST API: a tenant, locations,
stations, POS keys, and paired devices (one pairing code per device)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")


class SetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class PairedDevice:
    id: str
    token: str
    location_id: str
    station_id: str | None


@dataclass
class World:
    tenant_id: str
    manager_secret: str
    locations: list[str] = field(default_factory=list)
    # station id -> its location id, in creation order
    stations: dict[str, str] = field(default_factory=dict)
    pos_secrets: list[str] = field(default_factory=list)
    devices: list[PairedDevice] = field(default_factory=list)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    *,
    expect: int = 201,
    retries: int = 5,
) -> dict[str, Any]:
    """POST, retrying transient failures (503, 429, a dropped connection) a few times."""
    for attempt in range(retries + 1):
        try:
            async with session.post(url, json=body, headers=headers) as r:
                payload = await r.json(content_type=None)
                if r.status == expect:
                    result: dict[str, Any] = payload
                    return result
                if r.status not in (429, 503) or attempt == retries:
                    raise SetupError(f"POST {url} -> {r.status}: {payload}")
        except (aiohttp.ClientConnectionError, TimeoutError):
            if attempt == retries:
                raise
        await asyncio.sleep(0.2 * (attempt + 1))
    raise SetupError(f"POST {url}: no answer")


async def gather_limited(
    factories: Iterable[Callable[[], Awaitable[T]]], concurrency: int
) -> list[T]:
    """Run the coroutines ``concurrency`` at a time; results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(factory: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await factory()

    return list(await asyncio.gather(*(one(f) for f in factories)))


async def create_world(
    session: aiohttp.ClientSession,
    base_url: str,
    admin_token: str,
    *,
    locations: int,
    stations_per_location: int,
    pos_keys: int,
    concurrency: int = 32,
) -> World:
    t = await post_json(session, f"{base_url}/v1/tenants", {"name": "bench"}, bearer(admin_token))
    world = World(t["tenant"]["id"], t["api_key"]["secret"])
    manager = bearer(world.manager_secret)
    made = await gather_limited(
        [
            partial(post_json, session, f"{base_url}/v1/locations", {"name": f"L{i}"}, manager)
            for i in range(locations)
        ],
        concurrency,
    )
    world.locations = [m["id"] for m in made]

    async def station(location_id: str, n: int) -> tuple[str, str]:
        s = await post_json(
            session,
            f"{base_url}/v1/locations/{location_id}/stations",
            {"name": f"S{n}", "paper_width_mm": 80},
            manager,
        )
        return s["id"], location_id

    pairs = await gather_limited(
        [partial(station, loc, n) for loc in world.locations for n in range(stations_per_location)],
        concurrency,
    )
    world.stations = dict(pairs)
    keys = await gather_limited(
        [
            partial(
                post_json,
                session,
                f"{base_url}/v1/api-keys",
                {"name": f"till {i}", "role": "pos"},
                manager,
            )
            for i in range(pos_keys)
        ],
        concurrency,
    )
    world.pos_secrets = [k["secret"] for k in keys]
    return world


async def pair_devices(
    session: aiohttp.ClientSession,
    base_url: str,
    world: World,
    scopes: list[tuple[str, str | None]],
    *,
    concurrency: int = 64,
) -> list[PairedDevice]:
    """One pairing code and one pair call per (location, station or None) in ``scopes``."""
    manager = bearer(world.manager_secret)

    async def pair(location_id: str, station_id: str | None, n: int) -> PairedDevice:
        code = await post_json(
            session,
            f"{base_url}/v1/pairing-codes",
            {"location_id": location_id, "station_id": station_id, "kind": "print_bridge"},
            manager,
        )
        paired = await post_json(
            session, f"{base_url}/v1/devices/pair", {"code": code["code"], "name": f"bench {n}"}
        )
        return PairedDevice(paired["device"]["id"], paired["token"], location_id, station_id)

    devices = await gather_limited(
        [partial(pair, loc, st, n) for n, (loc, st) in enumerate(scopes)],
        concurrency,
    )
    world.devices.extend(devices)
    return devices
