"""Pairing codes, pairing, the device list, /devices/me and unpairing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.auth.secrets import PAIRING_ALPHABET
from app.config import Settings
from app.main import create_app
from tests.world import Tenant, World, assert_error

# The contract's Device.
DEVICE_FIELDS = {"id", "name", "kind", "location_id", "station_id", "online"}
DEVICE_FIELDS |= {"paired_at", "last_seen_at"}


@asynccontextmanager
async def client_at(app: Any, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``host`` (the pairing rate limit is per address)."""
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://printrelay.test") as c:
        yield c


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def new_code(world: World, tenant: Tenant, **body: Any) -> httpx.Response:
    return await world.client.post("/v1/pairing-codes", json=body, headers=tenant.manager)


async def pair(client: httpx.AsyncClient, code: str, name: str = "kitchen pi") -> httpx.Response:
    return await client.post("/v1/devices/pair", json={"code": code, "name": name})


async def device_ids(world: World, tenant: Tenant, location: str | None = None) -> list[str]:
    params = {"location_id": location} if location else {}
    r = await world.client.get("/v1/devices", params=params, headers=tenant.manager)
    assert r.status_code == 200, r.text
    return [d["id"] for d in r.json()["items"]]


# --- POST /v1/pairing-codes ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["print_bridge", "web_bridge"])
async def test_pairing_code_format_and_expiry(world: World, kind: str) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    for station_id in (None, station):
        before = datetime.now(UTC)
        r = await new_code(world, tenant, location_id=location, station_id=station_id, kind=kind)
        after = datetime.now(UTC)
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        assert len(code) >= 8 and set(code) <= set(PAIRING_ALPHABET), code
        expires_at = parse_time(r.json()["expires_at"])
        lo, hi = before + timedelta(seconds=598), after + timedelta(seconds=602)
        assert lo <= expires_at <= hi


async def test_pairing_codes_are_distinct(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    codes = {await tenant.pairing_code(location) for _ in range(10)}
    assert len(codes) == 10


async def test_pairing_code_is_manager_only(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    body = {"location_id": location, "kind": "print_bridge"}
    for headers in (tenant.pos, device.headers):
        r = await world.client.post("/v1/pairing-codes", json=body, headers=headers)
        assert_error(r, 403, "forbidden")
    assert_error(await world.client.post("/v1/pairing-codes", json=body), 401, "unauthorized")


async def test_pairing_code_for_foreign_location_or_station_is_404(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    own_location = await tenant.location()
    foreign_location = await other.location()
    foreign_station = await other.station(foreign_location)
    for body in (
        {"location_id": foreign_location},
        {"location_id": foreign_location, "station_id": foreign_station},
        {"location_id": own_location, "station_id": foreign_station},
        {"location_id": str(uuid.uuid4())},
        {"location_id": own_location, "station_id": str(uuid.uuid4())},
    ):
        r = await new_code(world, tenant, kind="print_bridge", **body)
        assert_error(r, 404, "not_found")


async def test_pairing_code_for_station_of_another_location_is_404(world: World) -> None:
    tenant = await world.tenant()
    first = await tenant.location("First")
    second = await tenant.location("Second")
    station_of_second = await tenant.station(second)
    r = await new_code(
        world, tenant, location_id=first, station_id=station_of_second, kind="print_bridge"
    )
    assert_error(r, 404, "not_found")


BAD_CODE_REQUESTS: dict[str, dict[str, Any]] = {
    "bad-kind": {"kind": "printer"},
    "null-kind": {"kind": None},
    "upper-kind": {"kind": "PRINT_BRIDGE"},
    "no-kind": {"kind": ...},
    "no-location": {"location_id": ...},
    "bad-location": {"location_id": "not-a-uuid"},
    "bad-station": {"station_id": "nope"},
    "unknown-field": {"ttl_s": 99999},
}


@pytest.mark.parametrize("body", list(BAD_CODE_REQUESTS.values()), ids=list(BAD_CODE_REQUESTS))
async def test_pairing_code_rejects_bad_input(world: World, body: dict[str, Any]) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    full: dict[str, Any] = {"location_id": location, "kind": "print_bridge", **body}
    full = {k: v for k, v in full.items() if v is not ...}
    r = await world.client.post("/v1/pairing-codes", json=full, headers=tenant.manager)
    assert_error(r, 422, "validation_error")


# --- POST /v1/devices/pair -------------------------------------------------------------------


async def test_pair_station_bridge(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    code = await tenant.pairing_code(location, station, kind="print_bridge")
    before = datetime.now(UTC)
    r = await pair(world.client, code, "kitchen pi")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["token"].startswith("prd_") and len(body["token"]) >= len("prd_") + 22
    device = body["device"]
    assert set(device) >= DEVICE_FIELDS
    uuid.UUID(device["id"])
    assert device["name"] == "kitchen pi"
    assert device["kind"] == "print_bridge"
    assert device["location_id"] == location
    assert device["station_id"] == station
    assert device["online"] is False
    assert before - timedelta(seconds=5) <= parse_time(device["paired_at"])
    assert parse_time(device["paired_at"]) <= datetime.now(UTC) + timedelta(seconds=5)

    me = await world.client.get(
        "/v1/devices/me", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json() == device


async def test_pair_location_web_bridge(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    code = await tenant.pairing_code(location, None, kind="web_bridge")
    r = await pair(world.client, code, "front tablet")
    assert r.status_code == 201, r.text
    device = r.json()["device"]
    assert device["station_id"] is None
    assert device["location_id"] == location
    assert device["kind"] == "web_bridge"
    assert device["online"] is False
    assert await device_ids(world, tenant, location) == [device["id"]]


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.lower(),
        lambda c: c[:5] + "-" + c[5:],
        lambda c: c[:5].lower() + "-" + c[5:],
        lambda c: " " + c[:5] + " " + c[5:] + " ",
    ],
    ids=["lower", "dash", "lower-dash", "spaces"],
)
async def test_pair_accepts_code_as_people_type_it(
    world: World, typed: Callable[[str], str]
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    code = await tenant.pairing_code(location)
    r = await pair(world.client, typed(code))
    assert r.status_code == 201, r.text
    # The same code, typed exactly, is now used.
    assert_error(await pair(world.client, code), 400, "invalid_pairing_code")
    assert await device_ids(world, tenant) == [r.json()["device"]["id"]]


async def test_code_is_single_use(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    code = await tenant.pairing_code(location)
    first = await pair(world.client, code, "first")
    assert first.status_code == 201, first.text
    second = await pair(world.client, code, "second")
    assert_error(second, 400, "invalid_pairing_code")
    assert "token" not in second.text
    assert await device_ids(world, tenant) == [first.json()["device"]["id"]]


@pytest.mark.parametrize("code", ["ZZZZZZZZZZ", "2345-6789-AB", "hello", "x" * 64])
async def test_unknown_code_is_400(world: World, code: str) -> None:
    tenant = await world.tenant()
    await tenant.pairing_code(await tenant.location())
    assert_error(await pair(world.client, code), 400, "invalid_pairing_code")
    assert await device_ids(world, tenant) == []


BAD_PAIR_REQUESTS: dict[str, dict[str, Any]] = {
    "no-code": {"code": ...},
    "empty-code": {"code": ""},
    "null-code": {"code": None},
    "long-code": {"code": "A" * 65},
    "no-name": {"name": ...},
    "empty-name": {"name": ""},
    "long-name": {"name": "x" * 201},
    "unknown-field": {"kind": "web_bridge"},
}


@pytest.mark.parametrize("body", list(BAD_PAIR_REQUESTS.values()), ids=list(BAD_PAIR_REQUESTS))
async def test_pair_rejects_bad_input_without_spending_the_code(
    world: World, body: dict[str, Any]
) -> None:
    tenant = await world.tenant()
    code = await tenant.pairing_code(await tenant.location())
    full = {"code": code, "name": "bridge", **body}
    full = {k: v for k, v in full.items() if v is not ...}
    r = await world.client.post("/v1/devices/pair", json=full)
    assert_error(r, 422, "validation_error")
    assert await device_ids(world, tenant) == []
    assert (await pair(world.client, code)).status_code == 201


async def test_expired_code_is_400(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"pairing_code_ttl_s": 1}), run_sweeper=False)
    async with app.router.lifespan_context(app), client_at(app, "127.0.0.1") as client:
        world = World(client, app)
        tenant = await world.tenant()
        location = await tenant.location()
        r = await new_code(world, tenant, location_id=location, kind="print_bridge")
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        remaining = parse_time(r.json()["expires_at"]) - datetime.now(UTC)
        assert remaining <= timedelta(seconds=1.5)
        await asyncio.sleep(remaining.total_seconds() + 0.3)
        assert_error(await pair(client, code), 400, "invalid_pairing_code")
        assert await device_ids(world, tenant) == []


async def test_pairing_is_rate_limited_per_address(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    code = await tenant.pairing_code(location)
    async with client_at(world.app, "203.0.113.7") as guesser:
        for i in range(10):
            assert_error(await pair(guesser, f"WRONG{i:05d}"), 400, "invalid_pairing_code")
        for attempt in (code, code.lower(), "WRONG99999"):
            r = await pair(guesser, attempt)
            assert_error(r, 429, "rate_limited")
            retry_after = int(r.headers["Retry-After"])
            assert 1 <= retry_after <= 60
    assert await device_ids(world, tenant) == []
    # The limited attempt did not spend the code, and other addresses are not limited.
    async with client_at(world.app, "203.0.113.8") as other:
        r = await pair(other, code)
        assert r.status_code == 201, r.text


async def test_concurrent_exchanges_of_one_code_pair_once(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    code = await tenant.pairing_code(location)

    async def attempt(i: int) -> httpx.Response:
        async with client_at(world.app, f"198.51.100.{i + 1}") as client:
            return await pair(client, code, f"racer {i}")

    answers = await asyncio.gather(*(attempt(i) for i in range(20)))
    winners = [r for r in answers if r.status_code == 201]
    assert len(winners) == 1, [r.status_code for r in answers]
    for r in answers:
        if r.status_code != 201:
            assert_error(r, 400, "invalid_pairing_code")
    assert await device_ids(world, tenant) == [winners[0].json()["device"]["id"]]


# --- GET /v1/devices, /v1/devices/me ---------------------------------------------------------


async def test_list_devices_with_location_filter(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    first = await tenant.location("First")
    second = await tenant.location("Second")
    a = await tenant.device(first)
    b = await tenant.device(first, await tenant.station(first))
    c = await tenant.device(second)
    await other.device(await other.location())
    assert sorted(await device_ids(world, tenant)) == sorted([a.id, b.id, c.id])
    assert sorted(await device_ids(world, tenant, first)) == sorted([a.id, b.id])
    assert await device_ids(world, tenant, second) == [c.id]
    assert await device_ids(world, tenant, await tenant.location("Empty")) == []
    r = await world.client.get("/v1/devices", headers=tenant.manager)
    for item in r.json()["items"]:
        assert set(item) >= DEVICE_FIELDS and "token" not in item


async def test_list_devices_foreign_or_bad_location(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    foreign = await other.location()
    await other.device(foreign)
    for location, status, code in (
        (foreign, 404, "not_found"),
        (str(uuid.uuid4()), 404, "not_found"),
        ("nope", 422, "validation_error"),
    ):
        params = {"location_id": location}
        r = await world.client.get("/v1/devices", params=params, headers=tenant.manager)
        assert_error(r, status, code)


async def test_list_devices_is_manager_only(world: World) -> None:
    tenant = await world.tenant()
    device = await tenant.device(await tenant.location())
    for headers in (tenant.pos, device.headers):
        assert_error(await world.client.get("/v1/devices", headers=headers), 403, "forbidden")
    assert_error(await world.client.get("/v1/devices"), 401, "unauthorized")


async def test_me_is_for_devices_only(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    me = await world.client.get("/v1/devices/me", headers=device.headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == device.id and me.json()["station_id"] is None
    for headers in (tenant.manager, tenant.pos):
        r = await world.client.get("/v1/devices/me", headers=headers)
        assert_error(r, 403, "forbidden")
    assert_error(await world.client.get("/v1/devices/me"), 401, "unauthorized")


# --- DELETE /v1/devices/{id} -----------------------------------------------------------------


async def test_unpair_revokes_token_and_releases_claimed_jobs(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    device = await tenant.device(location, station)
    keeper = await tenant.device(location)
    held = await tenant.job(location, station)
    waiting = await tenant.job(location, station)
    claim = await world.claim(device, held["id"])
    assert claim.status_code == 200, claim.text
    assert claim.json()["status"] == "sent"

    r = await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    assert r.status_code == 204, r.text
    assert r.content == b""

    assert_error(
        await world.client.get("/v1/devices/me", headers=device.headers), 401, "unauthorized"
    )
    assert_error(await world.claim(device, waiting["id"]), 401, "unauthorized")
    assert_error(await world.report(device, held["id"], "printed"), 401, "unauthorized")
    r = await world.client.get("/v1/print-jobs", headers=device.headers)
    assert_error(r, 401, "unauthorized")

    jobs = {}
    for job in (held, waiting):
        g = await world.client.get(f"/v1/print-jobs/{job['id']}", headers=tenant.manager)
        assert g.status_code == 200, g.text
        jobs[job["id"]] = g.json()["status"]
    assert jobs == {held["id"]: "unconfirmed", waiting["id"]: "pending"}

    assert await device_ids(world, tenant) == [keeper.id]
    assert (await world.client.get("/v1/devices/me", headers=keeper.headers)).status_code == 200
    again = await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    assert_error(again, 404, "not_found")


async def test_other_tenant_cannot_unpair(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    location = await tenant.location()
    device = await tenant.device(location)
    job = await tenant.job(location)
    assert (await world.claim(device, job["id"])).status_code == 200
    r = await world.client.delete(f"/v1/devices/{device.id}", headers=other.manager)
    assert_error(r, 404, "not_found")
    assert (await world.client.get("/v1/devices/me", headers=device.headers)).status_code == 200
    assert await device_ids(world, tenant) == [device.id]
    g = await world.client.get(f"/v1/print-jobs/{job['id']}", headers=tenant.manager)
    assert g.json()["status"] == "sent"
    report = await world.report(device, job["id"], "printed")
    assert report.status_code == 200, report.text


async def test_unpaired_devices_are_listed_on_request_with_when_and_by_whom(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    location = await tenant.location()
    kept = await tenant.device(location)
    gone = await tenant.device(location, await tenant.station(location))
    foreign = await other.device(await other.location())
    keys = (await world.client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
    (manager_key,) = [k["id"] for k in keys if k["role"] == "manager"]
    before = datetime.now(UTC)
    r = await world.client.delete(f"/v1/devices/{gone.id}", headers=tenant.manager)
    assert r.status_code == 204, r.text
    assert (
        await world.client.delete(f"/v1/devices/{foreign.id}", headers=other.manager)
    ).is_success

    assert await device_ids(world, tenant) == [kept.id]  # the default list: paired devices
    for params in ({"include": "revoked"}, {"include": "revoked", "location_id": location}):
        r = await world.client.get("/v1/devices", params=params, headers=tenant.manager)
        assert r.status_code == 200, r.text
        items = {d["id"]: d for d in r.json()["items"]}
        assert set(items) == {kept.id, gone.id}  # never the other tenant's
        assert items[kept.id]["revoked_at"] is None and items[kept.id]["revoked_by"] is None
        unpaired = items[gone.id]
        assert before - timedelta(seconds=5) <= parse_time(unpaired["revoked_at"])
        assert parse_time(unpaired["revoked_at"]) <= datetime.now(UTC) + timedelta(seconds=5)
        assert unpaired["revoked_by"] == {"kind": "manager", "id": manager_key}
        assert "revoked_by_key_id" not in unpaired
        assert unpaired["online"] is False and "token" not in unpaired
    for bad in ("everything", "REVOKED", ""):
        r = await world.client.get("/v1/devices", params={"include": bad}, headers=tenant.manager)
        assert_error(r, 422, "validation_error")
    r = await world.client.get("/v1/devices", params={"include": "revoked"}, headers=tenant.pos)
    assert_error(r, 403, "forbidden")


async def test_unpair_bad_requests(world: World) -> None:
    tenant = await world.tenant()
    device = await tenant.device(await tenant.location())
    path = f"/v1/devices/{device.id}"
    for headers in (tenant.pos, device.headers):
        assert_error(await world.client.delete(path, headers=headers), 403, "forbidden")
    assert_error(await world.client.delete(path), 401, "unauthorized")
    r = await world.client.delete(f"/v1/devices/{uuid.uuid4()}", headers=tenant.manager)
    assert_error(r, 404, "not_found")
    r = await world.client.delete("/v1/devices/not-a-uuid", headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    assert (await world.client.get("/v1/devices/me", headers=device.headers)).status_code == 200
    assert await device_ids(world, tenant) == [device.id]
