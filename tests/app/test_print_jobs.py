"""POST /v1/print-jobs, GET one job, cancel, reprint, history and the body cap."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.app.test_document_limits import png
from tests.conftest import ALL_PATHS
from tests.world import DOCUMENT, Tenant, World, assert_error, bearer

# Also on PostgreSQL without the hot path (app.print_jobs.hot_path): both paths hold the same.
pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)

JOB_FIELDS = {"id", "location_id", "station_id", "status", "document", "raw", "copies"}
JOB_FIELDS |= {"drawer_pulse", "claimed_by", "epoch", "reprint_of", "error"}
JOB_FIELDS |= {"created_at", "updated_at", "expires_at", "paper_width_mm"}
RAW_BYTES = b"\x1b@HELLO\n\x00\xff\x1dV\x00"
PNG = base64.b64encode(png(16, 6)).decode()


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def _location_job_ids(world: World, tenant: Tenant, location_id: str) -> list[str]:
    r = await world.client.get(
        "/v1/print-jobs",
        params={"location_id": location_id, "limit": 200},
        headers=tenant.manager,
    )
    assert r.status_code == 200, r.text
    return [j["id"] for j in r.json()["items"]]


async def _submit(world: World, headers: dict[str, str], **body: Any) -> Any:
    return await world.client.post("/v1/print-jobs", json=body, headers=headers)


# --- submit ---------------------------------------------------------------------------------


async def test_document_job_has_the_contract_shape_and_defaults(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    r = await _submit(
        world, tenant.pos, location_id=location, station_id=station, document=DOCUMENT
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert set(job) == JOB_FIELDS
    uuid.UUID(job["id"])
    assert job["location_id"] == location and job["station_id"] == station
    assert job["status"] == "pending"
    assert job["document"]["blocks"][0] == {
        **DOCUMENT["blocks"][0],
        "underline": False,
        "size": "normal",
    }
    assert [b["type"] for b in job["document"]["blocks"]] == ["text", "row", "cut"]
    assert job["raw"] is None
    assert job["copies"] == 1 and job["drawer_pulse"] is False
    for unset in ("claimed_by", "epoch", "reprint_of", "error"):
        assert job[unset] is None, unset
    created = _time(job["created_at"])
    assert _time(job["updated_at"]) == created
    expected_expiry = created + timedelta(seconds=900)
    assert abs(_time(job["expires_at"]) - expected_expiry) < timedelta(seconds=1)
    got = await world.client.get(f"/v1/print-jobs/{job['id']}", headers=tenant.pos)
    assert got.status_code == 200 and got.json() == job


async def test_raw_job_is_stored_canonical_and_options_are_honoured(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    # "QR==" is non-canonical base64 for b"A" (stray low bits); canonical is "QQ==".
    raw = {"encoding": "base64", "data": "QR=="}
    r = await _submit(
        world,
        tenant.manager,
        location_id=location,
        raw=raw,
        copies=3,
        drawer_pulse=True,
        expires_in_s=60,
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert set(job) == JOB_FIELDS
    assert job["raw"] == {"encoding": "base64", "data": "QQ=="}
    assert job["document"] is None and job["station_id"] is None
    assert job["copies"] == 3 and job["drawer_pulse"] is True
    expected_expiry = _time(job["created_at"]) + timedelta(seconds=60)
    assert abs(_time(job["expires_at"]) - expected_expiry) < timedelta(seconds=1)

    data = base64.b64encode(RAW_BYTES).decode()
    binary = await tenant.job(location, raw={"encoding": "base64", "data": data})
    assert binary["raw"] == {"encoding": "base64", "data": data}
    got = await world.client.get(f"/v1/print-jobs/{binary['id']}", headers=tenant.pos)
    assert base64.b64decode(got.json()["raw"]["data"]) == RAW_BYTES


def _blocks(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"document": {"blocks": list(blocks)}}


GIF = base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode()
RAW_A = {"encoding": "base64", "data": "QQ=="}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"document": DOCUMENT, "raw": RAW_A}, id="both"),
        pytest.param({}, id="neither"),
        pytest.param({"document": None, "raw": None}, id="both-null"),
        pytest.param(_blocks({"type": "marquee"}), id="unknown-block"),
        pytest.param(
            _blocks({"type": "barcode", "data": "12345678901A", "symbology": "EAN13"}),
            id="ean13-letters",
        ),
        pytest.param({"raw": {"encoding": "base64", "data": "not base64!"}}, id="bad-base64"),
        pytest.param({"raw": {"encoding": "hex", "data": "1b40"}}, id="raw-encoding-hex"),
        pytest.param(_blocks({"type": "image", "png_base64": GIF}), id="image-not-png"),
        pytest.param({"document": DOCUMENT, "copies": 0}, id="copies-0"),
        pytest.param({"document": DOCUMENT, "priority": "high"}, id="unknown-field"),
        pytest.param(
            _blocks({"type": "text", "text": "x", "colour": "red"}), id="unknown-block-field"
        ),
    ],
)
async def test_invalid_submission_is_422_and_creates_nothing(
    world: World, change: dict[str, Any]
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    before = await _location_job_ids(world, tenant, location)
    r = await _submit(world, tenant.manager, location_id=location, **change)
    assert_error(r, 422, "validation_error")
    assert await _location_job_ids(world, tenant, location) == before


async def test_valid_image_and_barcodes_are_accepted(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    blocks = [
        {"type": "image", "png_base64": PNG},
        {"type": "barcode", "data": "400638133393", "symbology": "EAN13"},
        {"type": "barcode", "data": "ORDER-42", "symbology": "CODE128"},
        {"type": "qr", "data": "https://example.com/r/42"},
    ]
    job = await tenant.job(location, document={"blocks": blocks})
    assert [b["type"] for b in job["document"]["blocks"]] == ["image", "barcode", "barcode", "qr"]


async def test_station_and_location_must_belong_to_the_tenant(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location, location_2 = await tenant.location("one"), await tenant.location("two")
    station_2 = await tenant.station(location_2)
    foreign_location = await other.location()
    foreign_station = await other.station(foreign_location)
    cases = [
        (location, station_2),  # a station of another location
        (location, foreign_station),  # a station of another tenant
        (foreign_location, None),  # another tenant's location
        (foreign_location, foreign_station),
        (str(uuid.uuid4()), None),
    ]
    for location_id, station_id in cases:
        r = await _submit(
            world, tenant.manager, location_id=location_id, station_id=station_id, document=DOCUMENT
        )
        assert_error(r, 404, "not_found")
    assert await _location_job_ids(world, tenant, location) == []
    assert await _location_job_ids(world, tenant, location_2) == []
    assert await _location_job_ids(world, other, foreign_location) == []


async def test_who_may_submit(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    body = {"location_id": location, "document": DOCUMENT}
    for headers in (tenant.pos, tenant.manager):
        r = await world.client.post("/v1/print-jobs", json=body, headers=headers)
        assert r.status_code == 201, r.text
    r = await world.client.post("/v1/print-jobs", json=body, headers=device.headers)
    assert_error(r, 403, "forbidden")
    assert_error(await world.client.post("/v1/print-jobs", json=body), 401, "unauthorized")
    r = await world.client.post("/v1/print-jobs", json=body, headers=bearer("prk_" + "x" * 40))
    assert_error(r, 401, "unauthorized")
    assert len(await _location_job_ids(world, tenant, location)) == 2


# --- Idempotency-Key --------------------------------------------------------------------------


async def test_idempotent_retry_returns_the_same_job(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    headers = {**tenant.pos, "Idempotency-Key": "order-1001"}
    body = {"location_id": location, "document": DOCUMENT, "copies": 2}
    first = await world.client.post("/v1/print-jobs", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await world.client.post("/v1/print-jobs", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json() == first.json()
    assert await _location_job_ids(world, tenant, location) == [first.json()["id"]]

    other_body = {**body, "copies": 3}
    conflict = await world.client.post("/v1/print-jobs", json=other_body, headers=headers)
    assert_error(conflict, 422, "idempotency_conflict")
    assert await _location_job_ids(world, tenant, location) == [first.json()["id"]]
    got = await world.client.get(f"/v1/print-jobs/{first.json()['id']}", headers=tenant.pos)
    assert got.json()["copies"] == 2


async def test_idempotency_keys_are_scoped_per_tenant(world: World) -> None:
    a, b = await world.tenant("A"), await world.tenant("B")
    loc_a, loc_b = await a.location(), await b.location()
    key = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    ra = await _submit(world, {**a.pos, **key}, location_id=loc_a, document=DOCUMENT)
    rb = await _submit(world, {**b.pos, **key}, location_id=loc_b, document=DOCUMENT)
    assert ra.status_code == 201 and rb.status_code == 201, (ra.text, rb.text)
    assert ra.json()["id"] != rb.json()["id"]
    assert await _location_job_ids(world, a, loc_a) == [ra.json()["id"]]
    assert await _location_job_ids(world, b, loc_b) == [rb.json()["id"]]


async def test_concurrent_submits_with_one_key_make_one_job(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    headers = {**tenant.pos, "Idempotency-Key": "burst-1"}
    body = {"location_id": location, "document": DOCUMENT}
    responses = await asyncio.gather(
        *(world.client.post("/v1/print-jobs", json=body, headers=headers) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert await _location_job_ids(world, tenant, location) == list(ids)


# --- read one ---------------------------------------------------------------------------------


async def test_get_job_is_tenant_scoped_and_validates_the_id(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    job = await tenant.job(await tenant.location())
    url = f"/v1/print-jobs/{job['id']}"
    assert_error(await world.client.get(url, headers=other.manager), 404, "not_found")
    r = await world.client.get(f"/v1/print-jobs/{uuid.uuid4()}", headers=tenant.manager)
    assert_error(r, 404, "not_found")
    r = await world.client.get("/v1/print-jobs/not-a-uuid", headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    assert_error(await world.client.get(url), 401, "unauthorized")
    r = await world.client.get(url, headers=tenant.pos)
    assert r.status_code == 200 and r.json() == job


# --- cancel -----------------------------------------------------------------------------------


async def test_cancel_only_from_pending(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location = await tenant.location()
    device = await tenant.device(location)
    job = await tenant.job(location)
    url = f"/v1/print-jobs/{job['id']}/cancel"
    assert_error(await world.client.post(url, headers=other.manager), 404, "not_found")
    assert_error(await world.client.post(url, headers=device.headers), 403, "forbidden")
    assert_error(await world.client.post(url), 401, "unauthorized")
    r = await world.client.post(url, headers=tenant.pos)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled" and r.json()["id"] == job["id"]
    assert_error(await world.client.post(url, headers=tenant.manager), 409, "invalid_transition")

    sent = await tenant.job(location)
    assert (await world.claim(device, sent["id"])).status_code == 200
    r = await world.client.post(f"/v1/print-jobs/{sent['id']}/cancel", headers=tenant.pos)
    assert_error(r, 409, "invalid_transition")
    got = await world.client.get(f"/v1/print-jobs/{sent['id']}", headers=tenant.pos)
    assert got.json()["status"] == "sent" and got.json()["claimed_by"] == device.id
    r = await world.client.post(f"/v1/print-jobs/{uuid.uuid4()}/cancel", headers=tenant.pos)
    assert_error(r, 404, "not_found")


# --- reprint ----------------------------------------------------------------------------------


async def test_reprint_makes_a_new_pending_job(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location = await tenant.location()
    station = await tenant.station(location)
    device = await tenant.device(location, station)
    original = await tenant.job(location, station, copies=2, drawer_pulse=True)
    assert (await world.claim(device, original["id"])).status_code == 200
    assert (await world.report(device, original["id"], "printed")).status_code == 200
    url = f"/v1/print-jobs/{original['id']}/reprint"
    assert_error(await world.client.post(url, headers=other.pos), 404, "not_found")
    assert_error(await world.client.post(url, headers=device.headers), 403, "forbidden")

    r = await world.client.post(url, headers=tenant.pos)
    assert r.status_code == 201, r.text
    copy = r.json()
    assert set(copy) == JOB_FIELDS
    assert copy["id"] != original["id"] and copy["reprint_of"] == original["id"]
    assert copy["status"] == "pending"
    assert copy["document"] == original["document"] and copy["raw"] is None
    assert copy["drawer_pulse"] is False and copy["copies"] == 2
    assert (copy["location_id"], copy["station_id"]) == (location, station)
    assert copy["claimed_by"] is None and copy["epoch"] is None and copy["error"] is None
    got = await world.client.get(f"/v1/print-jobs/{original['id']}", headers=tenant.pos)
    assert got.json()["status"] == "printed" and got.json()["reprint_of"] is None
    assert len(await _location_job_ids(world, tenant, location)) == 2

    raw = await tenant.job(location, raw={"encoding": "base64", "data": "G0A="})
    r = await world.client.post(f"/v1/print-jobs/{raw['id']}/reprint", headers=tenant.manager)
    assert r.status_code == 201 and r.json()["raw"] == raw["raw"] and r.json()["document"] is None


# --- history ----------------------------------------------------------------------------------


async def test_events_record_every_status_change_with_its_actor(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location = await tenant.location()
    device = await tenant.device(location)
    printed = await tenant.job(location, headers=tenant.pos)
    assert (await world.claim(device, printed["id"])).status_code == 200
    assert (await world.report(device, printed["id"], "printed")).status_code == 200
    failed = await tenant.job(location)
    assert (await world.claim(device, failed["id"])).status_code == 200
    assert (await world.report(device, failed["id"], "failed", "paper_out")).status_code == 200
    canceled = await tenant.job(location, headers=tenant.pos)
    await world.client.post(f"/v1/print-jobs/{canceled['id']}/cancel", headers=tenant.manager)

    async def history(job_id: str) -> list[tuple[Any, ...]]:
        r = await world.client.get(f"/v1/print-jobs/{job_id}/events", headers=tenant.pos)
        assert r.status_code == 200, r.text
        return [
            (e["from_status"], e["to_status"], e["actor_kind"], e["error"])
            for e in r.json()["items"]
        ]

    assert await history(printed["id"]) == [
        (None, "pending", "pos", None),
        ("pending", "sent", "device", None),
        ("sent", "printed", "device", None),
    ]
    assert await history(failed["id"]) == [
        (None, "pending", "manager", None),
        ("pending", "sent", "device", None),
        ("sent", "failed", "device", "paper_out"),
    ]
    assert await history(canceled["id"]) == [
        (None, "pending", "pos", None),
        ("pending", "canceled", "manager", None),
    ]
    r = await world.client.get(f"/v1/print-jobs/{printed['id']}/events", headers=other.manager)
    assert_error(r, 404, "not_found")


# --- body cap ---------------------------------------------------------------------------------


async def test_body_over_one_mebibyte_is_413(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    data = "A" * (1024 * 1024 + 4)
    body = json.dumps({"location_id": location, "raw": {"encoding": "base64", "data": data}})
    headers = {**tenant.pos, "Content-Type": "application/json"}
    r = await world.client.post("/v1/print-jobs", content=body, headers=headers)
    assert_error(r, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap holds on bytes read
        encoded = body.encode()
        for start in range(0, len(encoded), 64 * 1024):
            yield encoded[start : start + 64 * 1024]

    r = await world.client.post("/v1/print-jobs", content=chunks(), headers=headers)
    assert_error(r, 413, "payload_too_large")
    assert await _location_job_ids(world, tenant, location) == []
