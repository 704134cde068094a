"""Every string, integer and boolean of every REST request body, found by walking the schemas
(tests/security/schema_walk.py): a NUL in any string, and a loosely typed integer or boolean
(``"2"``, ``2.0``, ``true``; ``"yes"``, ``1``), is a 422 ``validation_error`` that changes no
row, on SQLite and PostgreSQL, with the hot submission path on and off."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.models import Base
from app.schemas_common import Input
from tests.conftest import ALL_PATHS
from tests.security.routes import api_routes
from tests.security.schema_walk import (
    EVERY_BLOCK,
    declared_fields,
    is_free_text,
    leaves,
    loose_values,
    set_at,
    with_nul,
)
from tests.world import ADMIN, World, assert_error

pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


Sample = Callable[[World], Awaitable[list[Request]]]


async def _tenants(world: World) -> list[Request]:
    return [Request("/v1/tenants", ADMIN, {"name": "Cafe"})]


async def _api_keys(world: World) -> list[Request]:
    tenant = await world.tenant()
    return [Request("/v1/api-keys", tenant.manager, {"name": "till 2", "role": "pos"})]


async def _locations(world: World) -> list[Request]:
    tenant = await world.tenant()
    return [Request("/v1/locations", tenant.manager, {"name": "Centro"})]


async def _stations(world: World) -> list[Request]:
    tenant = await world.tenant()
    location = await tenant.location()
    body = {"name": "Barra", "paper_width_mm": 58, "fallback_after_s": 30}
    return [Request(f"/v1/locations/{location}/stations", tenant.manager, body)]


async def _station_update(world: World) -> list[Request]:
    tenant = await world.tenant()
    station = await tenant.station(await tenant.location(), width=80)
    body = {"name": "Barra", "paper_width_mm": 58, "fallback_after_s": 30}
    return [Request(f"/v1/stations/{station}", tenant.manager, body)]


async def _pairing_codes(world: World) -> list[Request]:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    body = {"location_id": location, "station_id": station, "kind": "print_bridge"}
    return [Request("/v1/pairing-codes", tenant.manager, body)]


async def _cloudprnt_printers(world: World) -> list[Request]:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    body = {"location_id": location, "station_id": station, "name": "Bar TSP143IV"}
    return [Request("/v1/cloudprnt-printers", tenant.manager, body)]


async def _webhooks(world: World) -> list[Request]:
    tenant = await world.tenant()
    location = await tenant.location()
    body = {
        "url": "https://93.184.215.14/hooks",  # a public address: no DNS, no private target
        "events": ["print_job.updated", "device.status"],
        "location_id": location,
    }
    return [Request("/v1/webhooks", tenant.manager, body)]


async def _pair(world: World) -> list[Request]:
    tenant = await world.tenant()
    code = await tenant.pairing_code(await tenant.location())
    return [Request("/v1/devices/pair", {}, {"code": code, "name": "kitchen"})]


async def _submit(world: World) -> list[Request]:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    common = {"location_id": location, "station_id": station, "copies": 2}
    common |= {"drawer_pulse": True, "expires_in_s": 600}
    raw = {"encoding": "base64", "data": base64.b64encode(b"\x1b@HELLO\n").decode()}
    return [
        Request("/v1/print-jobs", tenant.pos, {**common, "document": EVERY_BLOCK}),
        Request("/v1/print-jobs", tenant.pos, {**common, "raw": raw}),
    ]


async def _report(world: World) -> list[Request]:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location, online=True)
    await world.set_epoch(device, 3)
    job = await tenant.job(location)
    assert (await world.claim(device, job["id"])).status_code == 200
    body = {"status": "failed", "epoch": 3, "error": "paper out"}
    return [Request(f"/v1/print-jobs/{job['id']}", device.headers, body)]


async def _preview(world: World) -> list[Request]:
    tenant = await world.tenant()
    body = {"document": EVERY_BLOCK, "paper_width_mm": 58}
    return [Request("/v1/render?format=text", tenant.pos, body)]


NO_SCALARS = {
    ("POST", "/v1/tenants"),
    ("POST", "/v1/api-keys"),
    ("POST", "/v1/locations"),
    ("POST", "/v1/pairing-codes"),
    ("POST", "/v1/devices/pair"),
    ("POST", "/v1/cloudprnt-printers"),
    ("POST", "/v1/webhooks"),
}
# Fields whose own rules (base64, EAN13 digits, a URL) refuse a NUL before the NUL rule is reached.
OWN_RULE_FIELDS = (
    "RawPayload.data",
    "ImageBlock.png_base64",
    "BarcodeBlock.data",
    "WebhookCreate.url",  # printable ASCII http(s) only
)

SAMPLES: dict[tuple[str, str], Sample] = {
    ("POST", "/v1/tenants"): _tenants,
    ("POST", "/v1/api-keys"): _api_keys,
    ("POST", "/v1/locations"): _locations,
    ("POST", "/v1/locations/{location_id}/stations"): _stations,
    ("PATCH", "/v1/stations/{station_id}"): _station_update,
    ("POST", "/v1/pairing-codes"): _pairing_codes,
    ("POST", "/v1/devices/pair"): _pair,
    ("POST", "/v1/cloudprnt-printers"): _cloudprnt_printers,
    ("POST", "/v1/webhooks"): _webhooks,
    ("POST", "/v1/print-jobs"): _submit,
    ("PATCH", "/v1/print-jobs/{job_id}"): _report,
    ("POST", "/v1/render"): _preview,
}
# The socket events' payloads, sampled in tests/realtime/test_socket_input_boundary.py.
SOCKET_FIELDS = {
    ("ClaimMessage", "epoch"),
    ("ReportMessage", "epoch"),
    ("ReportMessage", "error"),
    ("PrinterStatusMessage", "printer"),
}


def _body_models(app: Any) -> dict[tuple[str, str], type[Input]]:
    found = {}
    for route in api_routes(app):
        body = route.body_field
        if body is not None:
            for method in route.methods:
                found[(method, route.path)] = body.field_info.annotation
    return found


async def _rows(world: World) -> dict[str, list[Any]]:
    async with world.app.state.db.transaction() as tx:
        return {
            table.name: sorted(map(repr, (await tx.session.execute(select(table))).all()))
            for table in Base.metadata.sorted_tables
        }


async def _refuse_each(world: World, operation: tuple[str, str], strings: bool) -> int:
    """Sends each sample of ``operation`` once per string (with a NUL) or once per loose form
    of each integer and boolean; each must be a 422 naming the field that changes no row."""
    method, _ = operation
    model = _body_models(world.app)[operation]
    tried = 0
    for sample in await SAMPLES[operation](world):
        for path, field, value in leaves(model.model_validate(sample.body)):
            if isinstance(value, str) != strings:
                continue
            for wrong in [with_nul(value)] if strings else loose_values(value):
                before = await _rows(world)
                body = set_at(sample.body, path, wrong)
                r = await world.client.request(
                    method, sample.path, json=body, headers=sample.headers
                )
                error = assert_error(r, 422, "validation_error")["error"]
                assert str(path[-1]) in error["message"], (field, error)  # names the field
                if strings and is_free_text(field) and not field.startswith(OWN_RULE_FIELDS):
                    assert "must not contain NUL (U+0000)" in error["message"], (field, error)
                assert await _rows(world) == before, (field, wrong)
                tried += 1
        # The sample itself is valid: the refusals above are the changed value's.
        r = await world.client.request(
            method, sample.path, json=sample.body, headers=sample.headers
        )
        assert r.status_code in (200, 201), r.text
    return tried


@pytest.mark.parametrize("operation", list(SAMPLES), ids=" ".join)
async def test_a_nul_in_any_string_is_422_and_changes_nothing(
    world: World, operation: tuple[str, str]
) -> None:
    tried = await _refuse_each(world, operation, strings=True)
    assert tried or operation == ("POST", "/v1/pairing-codes")  # IDs and an enum only


@pytest.mark.parametrize("operation", list(SAMPLES), ids=" ".join)
async def test_loose_integers_and_booleans_are_422_and_change_nothing(
    world: World, operation: tuple[str, str]
) -> None:
    tried = await _refuse_each(world, operation, strings=False)
    assert tried or operation in NO_SCALARS, operation


async def test_the_samples_reach_every_field_of_every_request_body(world: World) -> None:
    models = _body_models(world.app)
    assert set(models) == set(SAMPLES), "a route with a body has no sample here"
    reached: set[tuple[str, str]] = set()
    for operation, sample in SAMPLES.items():
        for request in await sample(world):
            model = models[operation]
            for _, field, _ in leaves(model.model_validate(request.body)):
                reached.add(tuple(field.split(".")))  # type: ignore[arg-type]
    assert declared_fields() - SOCKET_FIELDS <= reached, declared_fields() - reached
