"""GET /v1/print-jobs: filters, keyset pagination, and what a device may see."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.world import Device, Tenant, World, assert_error


async def _page(world: World, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await world.client.get("/v1/print-jobs", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"items", "next_cursor"}
    return body


async def _ids(world: World, headers: dict[str, str], **params: Any) -> list[str]:
    body = await _page(world, headers, limit=200, **params)
    assert body["next_cursor"] is None
    return [j["id"] for j in body["items"]]


async def _walk(
    world: World, tenant: Tenant, location: str, limit: int, **extra: Any
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"location_id": location, "limit": limit, **extra}
        if cursor is not None:
            params["cursor"] = cursor
        body = await _page(world, tenant.pos, **params)
        pages.append([j["id"] for j in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "pagination does not end"


async def test_filters_by_location_station_and_status(world: World) -> None:
    tenant = await world.tenant()
    loc_a, loc_b = await tenant.location("A"), await tenant.location("B")
    s1, s2 = await tenant.station(loc_a, "S1"), await tenant.station(loc_a, "S2")
    a_none = (await tenant.job(loc_a))["id"]
    a_s1 = (await tenant.job(loc_a, s1))["id"]
    a_s2 = (await tenant.job(loc_a, s2))["id"]
    b_none = (await tenant.job(loc_b))["id"]
    a_s1_canceled = (await tenant.job(loc_a, s1))["id"]
    r = await world.client.post(f"/v1/print-jobs/{a_s1_canceled}/cancel", headers=tenant.pos)
    assert r.status_code == 200

    h = tenant.pos
    assert await _ids(world, h, location_id=loc_a) == [a_none, a_s1, a_s2, a_s1_canceled]
    assert await _ids(world, h, location_id=loc_b) == [b_none]
    assert await _ids(world, h, station_id=s1) == [a_s1, a_s1_canceled]
    assert await _ids(world, h, location_id=loc_a, station_id=s2) == [a_s2]
    assert await _ids(world, h, location_id=loc_a, status="canceled") == [a_s1_canceled]
    assert await _ids(world, h, location_id=loc_a, status="pending") == [a_none, a_s1, a_s2]
    assert await _ids(world, h, station_id=s1, status="pending") == [a_s1]
    assert await _ids(world, h, location_id=loc_b, status="printed") == []
    # Without filters a tenant sees all of its own jobs, and only those.
    assert await _ids(world, tenant.manager) == [a_none, a_s1, a_s2, b_none, a_s1_canceled]
    r = await world.client.get("/v1/print-jobs", params={"status": "lost"}, headers=h)
    assert_error(r, 422, "validation_error")


async def test_limit_bounds(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    for _ in range(3):
        await tenant.job(location)
    page = await _page(world, tenant.pos, location_id=location, limit=2)
    assert len(page["items"]) == 2 and isinstance(page["next_cursor"], str)
    assert len((await _page(world, tenant.pos, location_id=location, limit=200))["items"]) == 3
    default = await _page(world, tenant.pos, location_id=location)
    assert len(default["items"]) == 3 and default["next_cursor"] is None
    for bad in (0, 201, -1, "ten"):
        r = await world.client.get(
            "/v1/print-jobs", params={"location_id": location, "limit": bad}, headers=tenant.pos
        )
        assert_error(r, 422, "validation_error")


@pytest.mark.parametrize("count,limit", [(7, 3), (6, 3), (1, 1)])
async def test_cursor_walks_every_job_oldest_first(world: World, count: int, limit: int) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    other_location = await tenant.location("elsewhere")
    created = []
    for i in range(count):
        created.append((await tenant.job(location))["id"])
        if i % 2 == 0:
            await tenant.job(other_location)  # interleaved jobs the filter must skip
    pages = await _walk(world, tenant, location, limit)
    flat = [job_id for page in pages for job_id in page]
    assert flat == created  # oldest first, no duplicates, no gaps
    assert all(len(page) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= limit  # no empty trailing page
    assert len(pages) == -(-count // limit)


@pytest.mark.parametrize("count,limit", [(7, 3), (1, 1)])
async def test_order_desc_walks_every_job_newest_first(
    world: World, count: int, limit: int
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    other_location = await tenant.location("elsewhere")
    created = []
    for i in range(count):
        created.append((await tenant.job(location))["id"])
        if i % 2 == 0:
            await tenant.job(other_location)
    pages = await _walk(world, tenant, location, limit, order="desc")
    assert [job_id for page in pages for job_id in page] == created[::-1]
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages) == -(-count // limit)
    # The newest page alone is one request: what a console shows first.
    newest = await _page(world, tenant.pos, location_id=location, limit=2, order="desc")
    assert [j["id"] for j in newest["items"]] == created[::-1][:2]
    oldest = await _page(world, tenant.pos, location_id=location, limit=2, order="asc")
    assert [j["id"] for j in oldest["items"]] == created[:2]


async def test_an_unknown_order_is_422(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    r = await world.client.get(
        "/v1/print-jobs", params={"location_id": location, "order": "newest"}, headers=tenant.pos
    )
    assert_error(r, 422, "validation_error")


def _b64(value: object) -> str:
    return _raw_b64(json.dumps(value).encode())


def _raw_b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="word"),
        pytest.param("!!!!", id="not-base64"),
        pytest.param("%%%", id="percent"),
        pytest.param(_b64([1, 2]), id="numbers"),
        pytest.param(_b64({"a": 1}), id="object"),
        pytest.param(_b64(["not a time", str(uuid.uuid4())]), id="bad-time"),
        pytest.param(_b64(["2026-01-01T00:00:00+00:00", "not-a-uuid"]), id="bad-uuid"),
        pytest.param(_b64(["2026-01-01T00:00:00+00:00"]), id="one-part"),
        pytest.param(_b64("just a string"), id="string"),
        pytest.param("x" * 600, id="too-long"),
        # Issue 19, item 3: each of these answered 500.
        pytest.param(_b64(["0001-01-01T00:00:00+01:00", str(uuid.uuid4())]), id="before-year-1"),
        pytest.param(_b64(["9999-12-31T23:59:59-01:00", str(uuid.uuid4())]), id="after-9999"),
        pytest.param(_b64(["2026-01-01T00:00:00+00:00", 42]), id="number-id"),
        pytest.param(_raw_b64(b'["2026-01-01T00:00:00+00:00", 1e999]'), id="1e999-id"),
        pytest.param(_raw_b64(b'[1e999, "' + str(uuid.uuid4()).encode() + b'"]'), id="1e999-time"),
        # Spellings the API never writes: not a cursor it issued.
        pytest.param(_b64(["2026-01-01T00:00:00Z", str(uuid.uuid4())]), id="zulu"),
        pytest.param(_b64(["2026-01-01T01:00:00+01:00", str(uuid.uuid4())]), id="offset"),
        pytest.param(_b64(["2026-01-01T00:00:00+00:00", uuid.uuid4().hex]), id="hex-id"),
        pytest.param(_b64(["2026-01-01T00:00:00", str(uuid.uuid4())]), id="naive"),
    ],
)
async def test_garbage_cursor_is_422(world: World, cursor: str) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    await tenant.job(location)
    r = await world.client.get(
        "/v1/print-jobs", params={"location_id": location, "cursor": cursor}, headers=tenant.pos
    )
    assert_error(r, 422, "validation_error")


@pytest.mark.parametrize(
    "created_at", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00"]
)
async def test_a_cursor_at_either_end_of_time_is_answered_not_a_500(
    world: World, created_at: str
) -> None:
    """A position in the API's own spelling is a position, even one no job has: the query
    takes the extreme timestamps on both dialects."""
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    cursor = _b64([created_at, str(uuid.uuid4())])
    body = await _page(world, tenant.pos, location_id=location, cursor=cursor)
    assert [j["id"] for j in body["items"]] == ([job["id"]] if created_at < "2" else [])


async def test_listing_another_tenants_location_is_404(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    foreign = await other.location()
    await other.job(foreign)
    for location_id in (foreign, str(uuid.uuid4())):
        r = await world.client.get(
            "/v1/print-jobs", params={"location_id": location_id}, headers=tenant.manager
        )
        assert_error(r, 404, "not_found")
    assert await _ids(world, tenant.manager) == []
    r = await world.client.get("/v1/print-jobs", params={"location_id": "nope"}, headers=tenant.pos)
    assert_error(r, 422, "validation_error")
    assert_error(await world.client.get("/v1/print-jobs"), 401, "unauthorized")


async def test_device_lists_only_jobs_in_its_scope(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location, elsewhere = await tenant.location("L"), await tenant.location("M")
    s1, s2 = await tenant.station(location, "S1"), await tenant.station(location, "S2")
    s3 = await tenant.station(location, "S3")
    bridge_s1 = await tenant.device(location, s1, online=True)
    bridge_s3 = await tenant.device(location, s3, online=False)  # paired but offline
    loc_bridge = await tenant.device(location)
    far_bridge = await tenant.device(elsewhere)

    j_loc = (await tenant.job(location))["id"]
    j_s1 = (await tenant.job(location, s1))["id"]
    j_s2 = (await tenant.job(location, s2))["id"]
    j_s3 = (await tenant.job(location, s3))["id"]
    j_far = (await tenant.job(elsewhere))["id"]
    foreign_loc = await other.location()
    await other.job(foreign_loc)

    async def seen(device: Device) -> list[str]:
        return await _ids(world, device.headers)

    assert await seen(bridge_s1) == [j_s1]
    assert await seen(bridge_s3) == [j_s3]
    assert await seen(loc_bridge) == [j_loc, j_s2, j_s3]  # S1 has an online station bridge
    assert await seen(far_bridge) == [j_far]

    async def get(device: Device, job_id: str) -> int:
        r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=device.headers)
        return r.status_code

    assert await get(bridge_s1, j_s1) == 200
    hidden = [(bridge_s1, j_s2), (bridge_s1, j_loc), (loc_bridge, j_s1), (far_bridge, j_loc)]
    for device, job_id in hidden:
        r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=device.headers)
        assert_error(r, 404, "not_found")

    # S1's bridge goes offline: its jobs fall to the location bridge, which claims one.
    await world.set_online(bridge_s1, False)
    assert await seen(loc_bridge) == [j_loc, j_s1, j_s2, j_s3]
    assert (await world.claim(loc_bridge, j_s1)).status_code == 200
    # Back online: the location bridge still sees the job it claimed, nothing else of S1.
    await world.set_online(bridge_s1, True)
    j_s1_later = (await tenant.job(location, s1))["id"]
    assert await seen(loc_bridge) == [j_loc, j_s1, j_s2, j_s3]
    assert await get(loc_bridge, j_s1) == 200
    assert await seen(bridge_s1) == [j_s1, j_s1_later]
    # Filters narrow a device's view; they never widen it.
    assert await _ids(world, loc_bridge.headers, status="sent") == [j_s1]
    assert await _ids(world, bridge_s1.headers, station_id=s2) == []
    assert await _ids(world, far_bridge.headers, location_id=location) == []
