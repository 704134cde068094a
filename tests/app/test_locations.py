"""Locations and their stations: roles, paper widths, tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.world import Tenant, World, assert_error


async def locations_of(world: World, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await world.client.get("/v1/locations", headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def stations_of(
    world: World, location_id: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    r = await world.client.get(f"/v1/locations/{location_id}/stations", headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def post_station(world: World, tenant: Tenant, location_id: str, body: Any) -> Any:
    return await world.client.post(
        f"/v1/locations/{location_id}/stations", json=body, headers=tenant.manager
    )


# --- locations -------------------------------------------------------------------------------


async def test_manager_creates_and_lists_locations(world: World) -> None:
    tenant = await world.tenant()
    r = await world.client.post(
        "/v1/locations", json={"name": " Downtown "}, headers=tenant.manager
    )
    assert r.status_code == 201, r.text
    created = r.json()
    uuid.UUID(created["id"])
    assert created["name"] == "Downtown"
    second = await tenant.location("Airport")
    items = await locations_of(world, tenant.manager)
    assert [(x["id"], x["name"]) for x in items] == [
        (created["id"], "Downtown"),
        (second, "Airport"),
    ]


async def test_pos_may_list_locations_but_not_create(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    assert [x["id"] for x in await locations_of(world, tenant.pos)] == [location]
    r = await world.client.post("/v1/locations", json={"name": "Sneaky"}, headers=tenant.pos)
    assert_error(r, 403, "forbidden")
    assert [x["id"] for x in await locations_of(world, tenant.manager)] == [location]


async def test_device_may_neither_list_nor_create_locations(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    assert_error(await world.client.get("/v1/locations", headers=device.headers), 403, "forbidden")
    r = await world.client.post("/v1/locations", json={"name": "x"}, headers=device.headers)
    assert_error(r, 403, "forbidden")
    assert [x["id"] for x in await locations_of(world, tenant.manager)] == [location]


async def test_locations_need_a_credential(world: World) -> None:
    assert_error(await world.client.get("/v1/locations"), 401, "unauthorized")
    r = await world.client.post("/v1/locations", json={"name": "x"})
    assert_error(r, 401, "unauthorized")


async def test_location_lists_are_tenant_scoped(world: World) -> None:
    a = await world.tenant("A")
    b = await world.tenant("B")
    a_locations = {await a.location("A1"), await a.location("A2")}
    b_locations = {await b.location("B1")}
    for headers in (a.manager, a.pos):
        assert {x["id"] for x in await locations_of(world, headers)} == a_locations
    for headers in (b.manager, b.pos):
        assert {x["id"] for x in await locations_of(world, headers)} == b_locations
    fresh = await world.tenant("C")
    assert await locations_of(world, fresh.manager) == []


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "  "}, {"name": "x" * 201}, {"name": "x", "tz": "UTC"}],
    ids=["missing", "empty", "blank", "too-long", "unknown-field"],
)
async def test_create_location_rejects_bad_input(world: World, body: dict[str, Any]) -> None:
    tenant = await world.tenant()
    before = await locations_of(world, tenant.manager)
    r = await world.client.post("/v1/locations", json=body, headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    assert await locations_of(world, tenant.manager) == before


# --- stations --------------------------------------------------------------------------------


async def test_station_paper_width_defaults_to_80(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    r = await post_station(world, tenant, location, {"name": "COCINA"})
    assert r.status_code == 201, r.text
    station = r.json()
    uuid.UUID(station["id"])
    assert station["location_id"] == location
    assert station["name"] == "COCINA"
    assert station["paper_width_mm"] == 80
    assert await stations_of(world, location, tenant.manager) == [station]


@pytest.mark.parametrize("width", [58, 80])
async def test_station_accepts_58_and_80(world: World, width: int) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    r = await post_station(world, tenant, location, {"name": "BAR", "paper_width_mm": width})
    assert r.status_code == 201, r.text
    assert r.json()["paper_width_mm"] == width
    listed = await stations_of(world, location, tenant.manager)
    assert [(s["id"], s["paper_width_mm"]) for s in listed] == [(r.json()["id"], width)]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "BAR", "paper_width_mm": 70},
        {"name": "BAR", "paper_width_mm": 0},
        {"name": "BAR", "paper_width_mm": -80},
        {"name": "BAR", "paper_width_mm": 112},
        {"name": "BAR", "paper_width_mm": 80.5},
        {"name": "BAR", "paper_width_mm": "wide"},
        {"name": "BAR", "paper_width_mm": [80]},
        {"paper_width_mm": 80},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "BAR", "printer": "tcp://10.0.0.9:9100"},
        {"name": "BAR", "fallback_after_s": -1},
        {"name": "BAR", "fallback_after_s": "60"},
        {"name": "BAR", "fallback_after_s": 2.5},
        {"name": "BAR", "fallback_after_s": True},
        {"name": "BAR", "fallback_after_s": 86_401},
    ],
    ids=[
        "width-70",
        "width-0",
        "width-negative",
        "width-112",
        "width-fraction",
        "width-string",
        "width-list",
        "no-name",
        "empty-name",
        "long-name",
        "unknown-field",
        "fallback-negative",
        "fallback-string",
        "fallback-float",
        "fallback-bool",
        "fallback-over-a-day",
    ],
)
async def test_create_station_rejects_bad_input(world: World, body: dict[str, Any]) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    await tenant.station(location, "EXISTING")
    before = await stations_of(world, location, tenant.manager)
    r = await post_station(world, tenant, location, body)
    assert_error(r, 422, "validation_error")
    assert await stations_of(world, location, tenant.manager) == before


async def test_stations_are_listed_per_location(world: World) -> None:
    tenant = await world.tenant()
    first = await tenant.location("First")
    second = await tenant.location("Second")
    kitchen = await tenant.station(first, "COCINA")
    bar = await tenant.station(first, "BAR", width=58)
    grill = await tenant.station(second, "GRILL")
    listed = await stations_of(world, first, tenant.manager)
    assert [(s["id"], s["name"], s["paper_width_mm"]) for s in listed] == [
        (kitchen, "COCINA", 80),
        (bar, "BAR", 58),
    ]
    assert all(s["location_id"] == first for s in listed)
    assert [s["id"] for s in await stations_of(world, second, tenant.manager)] == [grill]
    assert await stations_of(world, await tenant.location("Empty"), tenant.manager) == []


async def test_pos_may_list_stations_but_not_create(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    assert [s["id"] for s in await stations_of(world, location, tenant.pos)] == [station]
    r = await world.client.post(
        f"/v1/locations/{location}/stations", json={"name": "POS"}, headers=tenant.pos
    )
    assert_error(r, 403, "forbidden")
    assert [s["id"] for s in await stations_of(world, location, tenant.manager)] == [station]


async def test_device_may_neither_list_nor_create_stations(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    device = await tenant.device(location, station)
    path = f"/v1/locations/{location}/stations"
    assert_error(await world.client.get(path, headers=device.headers), 403, "forbidden")
    r = await world.client.post(path, json={"name": "x"}, headers=device.headers)
    assert_error(r, 403, "forbidden")
    assert [s["id"] for s in await stations_of(world, location, tenant.manager)] == [station]


async def test_stations_need_a_credential(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    path = f"/v1/locations/{location}/stations"
    assert_error(await world.client.get(path), 401, "unauthorized")
    assert_error(await world.client.post(path, json={"name": "x"}), 401, "unauthorized")
    assert await stations_of(world, location, tenant.manager) == []


async def test_other_tenants_location_is_404_for_stations(world: World) -> None:
    owner = await world.tenant("Owner")
    intruder = await world.tenant("Intruder")
    location = await owner.location()
    station = await owner.station(location)
    path = f"/v1/locations/{location}/stations"
    for headers in (intruder.manager, intruder.pos):
        assert_error(await world.client.get(path, headers=headers), 404, "not_found")
    r = await world.client.post(path, json={"name": "Planted"}, headers=intruder.manager)
    assert_error(r, 404, "not_found")
    # The owner's station list is unchanged, and the intruder's lists show nothing of it.
    assert [s["id"] for s in await stations_of(world, location, owner.manager)] == [station]
    own = await intruder.location()
    assert await stations_of(world, own, intruder.manager) == []
    assert [x["id"] for x in await locations_of(world, intruder.manager)] == [own]


async def test_404_for_other_tenant_matches_404_for_unknown_location(world: World) -> None:
    owner = await world.tenant("Owner")
    intruder = await world.tenant("Intruder")
    foreign = await owner.location()
    answers = []
    for location in (foreign, str(uuid.uuid4())):
        r = await world.client.get(f"/v1/locations/{location}/stations", headers=intruder.manager)
        answers.append(assert_error(r, 404, "not_found"))
        r = await post_station(world, intruder, location, {"name": "x"})
        answers.append(assert_error(r, 404, "not_found"))
    assert answers[0] == answers[2] and answers[1] == answers[3]


@pytest.mark.parametrize("location_id", ["not-a-uuid", "42"])
async def test_malformed_location_id_is_422(world: World, location_id: str) -> None:
    tenant = await world.tenant()
    path = f"/v1/locations/{location_id}/stations"
    r = await world.client.get(path, headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    r = await world.client.post(path, json={"name": "x"}, headers=tenant.manager)
    assert_error(r, 422, "validation_error")


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("\u0085", True),  # whitespace to Python, not to the schema's \S (ECMA-262)
        ("\x1c", True),
        ("\ufeff", False),  # whitespace to the schema, not to Python's str.strip()
        ("\u00a0\u3000 ", False),
        ("  Terraza  ", True),
    ],
)
async def test_a_name_is_blank_exactly_when_the_schema_says_so(
    world: World, name: str, accepted: bool
) -> None:
    tenant = await world.tenant()
    r = await world.client.post("/v1/locations", json={"name": name}, headers=tenant.manager)
    if accepted:
        assert r.status_code == 201, r.text
        assert r.json()["name"] == name.strip(" ")
    else:
        assert_error(r, 422, "validation_error")
