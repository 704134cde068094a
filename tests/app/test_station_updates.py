"""``PATCH /v1/stations/{id}``: a manager renames a station or changes its paper width; the next
submission takes the new width and earlier jobs keep theirs. Only the tenant's managers may, and
bad input changes nothing. On SQLite, and on PostgreSQL with the hot path and without it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import ALL_PATHS
from tests.world import Tenant, World, assert_error

pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)


async def _stations(world: World, tenant: Tenant, location: str) -> list[dict[str, Any]]:
    r = await world.client.get(f"/v1/locations/{location}/stations", headers=tenant.manager)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _patch(world: World, station: str, body: Any, headers: dict[str, str]) -> Any:
    return await world.client.patch(f"/v1/stations/{station}", json=body, headers=headers)


async def _job_width(world: World, tenant: Tenant, job_id: str) -> int:
    r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.pos)
    assert r.status_code == 200, r.text
    width: int = r.json()["paper_width_mm"]
    return width


async def test_a_manager_renames_a_station_and_changes_its_width(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "COCINA", 80)
    neighbour = await tenant.station(location, "BAR", 58)

    r = await _patch(world, station, {"name": " Cocina caliente "}, tenant.manager)
    assert r.status_code == 200, r.text
    renamed = {"id": station, "location_id": location, "name": "Cocina caliente"}
    # the width and fallback left out are kept
    assert r.json() == {**renamed, "paper_width_mm": 80, "fallback_after_s": 60}

    r = await _patch(world, station, {"paper_width_mm": 58}, tenant.manager)
    assert r.status_code == 200, r.text
    assert r.json() == {**renamed, "paper_width_mm": 58, "fallback_after_s": 60}

    both = {"name": "PLANCHA", "paper_width_mm": 80}
    r = await _patch(world, station, both, tenant.manager)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": station, "location_id": location, **both, "fallback_after_s": 60}

    # The lists show it; the other station of the location is untouched.
    listed = await _stations(world, tenant, location)
    assert [(s["id"], s["name"], s["paper_width_mm"]) for s in listed] == [
        (station, "PLANCHA", 80),
        (neighbour, "BAR", 58),
    ]
    r = await world.client.get(f"/v1/locations/{location}/stations", headers=tenant.pos)
    assert r.json()["items"] == listed

    # The same values again: 200 and nothing else changes (a PATCH is idempotent).
    r = await _patch(world, station, both, tenant.manager)
    assert r.status_code == 200 and r.json() == listed[0]


async def test_the_next_job_takes_the_new_width_and_earlier_jobs_keep_theirs(
    world: World,
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "BAR", 58)
    first = await tenant.job(location, station, headers=tenant.pos)

    await tenant.update_station(station, paper_width_mm=80)
    second = await tenant.job(location, station, headers=tenant.pos)
    await tenant.update_station(station, paper_width_mm=58)
    third = await tenant.job(location, station, headers=tenant.pos)
    await tenant.update_station(station, name="BARRA")  # a rename leaves the width alone
    fourth = await tenant.job(location, station, headers=tenant.pos)

    jobs = (first, second, third, fourth)
    assert [j["paper_width_mm"] for j in jobs] == [58, 80, 58, 58]
    assert [await _job_width(world, tenant, j["id"]) for j in jobs] == [58, 80, 58, 58]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"paper_width_mm": None},
        {"paper_width_mm": 70},
        {"paper_width_mm": 0},
        {"paper_width_mm": 112},
        {"paper_width_mm": "58"},
        {"paper_width_mm": 58.0},
        {"paper_width_mm": True},
        {"paper_width_mm": [58]},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "BAR\u0000"},
        {"name": 7},
        # A valid change beside a bad one: neither is made.
        {"name": "NUEVO", "paper_width_mm": 70},
        {"name": "NUEVO", "fallback_after_s": -5},
        {"fallback_after_s": "30"},
        {"fallback_after_s": 1.5},
        {"name": "NUEVO", "location_id": str(uuid.uuid4())},
        {"name": "NUEVO", "tenant_id": str(uuid.uuid4())},
        {"name": "NUEVO", "id": str(uuid.uuid4())},
        [],
        ["name", "NUEVO"],
        "NUEVO",
        58,
        None,  # no body at all
    ],
    ids=[
        "empty",
        "null-name",
        "null-width",
        "width-70",
        "width-0",
        "width-112",
        "width-string",
        "width-float",
        "width-bool",
        "width-list",
        "empty-name",
        "blank-name",
        "long-name",
        "nul-in-name",
        "number-name",
        "good-name-bad-width",
        "good-name-negative-fallback",
        "string-fallback",
        "float-fallback",
        "location-id",
        "tenant-id",
        "id",
        "list",
        "list-of-pairs",
        "string",
        "number",
        "no-body",
    ],
)
async def test_bad_input_is_422_and_changes_nothing(world: World, body: Any) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "BAR", 58)
    before = await _stations(world, tenant, location)
    assert_error(await _patch(world, station, body, tenant.manager), 422, "validation_error")
    assert await _stations(world, tenant, location) == before
    job = await tenant.job(location, station)
    assert job["paper_width_mm"] == 58


async def test_a_body_that_is_not_a_json_object_is_422(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "BAR", 58)
    before = await _stations(world, tenant, location)
    for content in (b"null", b"{", b'{"name": "NUEVO"', b"name=NUEVO", b"\xff\xfe"):
        r = await world.client.patch(
            f"/v1/stations/{station}",
            content=content,
            headers={**tenant.manager, "Content-Type": "application/json"},
        )
        assert_error(r, 422, "validation_error")
    assert await _stations(world, tenant, location) == before


@pytest.mark.parametrize("station_id", ["not-a-uuid", "42"])
async def test_a_malformed_station_id_is_422(world: World, station_id: str) -> None:
    tenant = await world.tenant()
    r = await _patch(world, station_id, {"name": "x"}, tenant.manager)
    assert_error(r, 422, "validation_error")


async def test_another_tenants_station_is_404_like_a_missing_one(world: World) -> None:
    owner = await world.tenant("Owner")
    intruder = await world.tenant("Intruder")
    location = await owner.location()
    station = await owner.station(location, "BAR", 58)
    before = await _stations(world, owner, location)
    change = {"name": "Hijacked", "paper_width_mm": 80}
    foreign = assert_error(await _patch(world, station, change, intruder.manager), 404, "not_found")
    missing = await _patch(world, str(uuid.uuid4()), change, intruder.manager)
    assert assert_error(missing, 404, "not_found") == foreign  # indistinguishable
    # A bad body on another tenant's station answers as on one's own: 422, nothing learnt.
    r = await _patch(world, station, {"paper_width_mm": 70}, intruder.manager)
    assert_error(r, 422, "validation_error")
    assert await _stations(world, owner, location) == before
    assert (await owner.job(location, station))["paper_width_mm"] == 58


async def test_pos_keys_and_devices_may_not_change_a_station(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "BAR", 58)
    station_bridge = await tenant.device(location, station)
    location_bridge = await tenant.device(location)
    before = await _stations(world, tenant, location)
    change = {"paper_width_mm": 80}
    for headers in (tenant.pos, station_bridge.headers, location_bridge.headers):
        assert_error(await _patch(world, station, change, headers), 403, "forbidden")
        # The role is checked before the body is read: a bad body is 403 too.
        assert_error(await _patch(world, station, {"bogus": 1}, headers), 403, "forbidden")
    assert await _stations(world, tenant, location) == before


async def test_no_credential_or_a_revoked_one_is_401(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "BAR", 58)
    before = await _stations(world, tenant, location)
    r = await world.client.post(
        "/v1/api-keys", json={"name": "old manager", "role": "manager"}, headers=tenant.manager
    )
    assert r.status_code == 201, r.text
    revoked = r.json()
    r = await world.client.delete(f"/v1/api-keys/{revoked['id']}", headers=tenant.manager)
    assert r.status_code == 204
    for headers in (
        {},
        {"Authorization": f"Bearer {revoked['secret']}"},
        {"Authorization": "Bearer prk_never-issued"},
    ):
        r = await _patch(world, station, {"paper_width_mm": 80}, headers)
        assert_error(r, 401, "unauthorized")
    assert await _stations(world, tenant, location) == before


async def test_fallback_after_s_on_create_patch_and_list(world: World) -> None:
    """``fallback_after_s``: 60 unless given, an int or null (never) on create and PATCH,
    returned in the station and its list; a PATCH of another field keeps it."""
    tenant = await world.tenant()
    location = await tenant.location()
    url = f"/v1/locations/{location}/stations"
    made = []
    for body in (
        {"name": "A"},
        {"name": "B", "fallback_after_s": 2},
        {"name": "C", "fallback_after_s": None},
    ):
        r = await world.client.post(url, json=body, headers=tenant.manager)
        assert r.status_code == 201, r.text
        made.append(r.json())
    assert [s["fallback_after_s"] for s in made] == [60, 2, None]
    a, b, c = (s["id"] for s in made)

    assert (await tenant.update_station(a, fallback_after_s=None))["fallback_after_s"] is None
    assert (await tenant.update_station(b, fallback_after_s=0))["fallback_after_s"] == 0
    assert (await tenant.update_station(c, fallback_after_s=86_400))["fallback_after_s"] == 86_400
    assert (await tenant.update_station(c, name="CC"))["fallback_after_s"] == 86_400

    listed = await _stations(world, tenant, location)
    assert [(s["name"], s["fallback_after_s"]) for s in listed] == [
        ("A", None),
        ("B", 0),
        ("CC", 86_400),
    ]
    # A bad value changes nothing; another tenant's manager gets 404.
    r = await _patch(world, b, {"fallback_after_s": -1}, tenant.manager)
    assert_error(r, 422, "validation_error")
    other = await world.tenant()
    r = await _patch(world, b, {"fallback_after_s": 5}, other.manager)
    assert_error(r, 404, "not_found")
    assert [s["fallback_after_s"] for s in await _stations(world, tenant, location)] == [
        None,
        0,
        86_400,
    ]
