"""The isolation matrix, generated from the route table: for every REST route that takes an ID,
another tenant's manager key, POS key and device get 404 exactly as for an ID that does not
exist, a credential of the wrong role gets 403, and revoked secrets get 401. A new route with a
new kind of ID fails this test until the matrix knows how to make one."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from app.auth.principals import PrincipalKind
from tests.security.routes import allowed_kinds, api_routes
from tests.world import World, assert_error, bearer

# What each path parameter names, and a minimal valid body per (method, path) where one is needed.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/locations/{location_id}/stations"): {"name": "X"},
    ("PATCH", "/v1/print-jobs/{job_id}"): {"status": "sent", "epoch": 0},
    ("PATCH", "/v1/stations/{station_id}"): {"paper_width_mm": 58},
}
# A valid query per (method, path) where one is required.
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/print-jobs/{job_id}/render"): {"format": "escpos"},
}


# A CloudPRNT printer's own URL: the path's secret is the credential (tests/cloudprnt: an
# unknown, unpaired or bridge's secret is 401, another MAC 403, other tenants' jobs unseen).
SECRET_IN_PATH = frozenset({"/cloudprnt/{secret}"})


def routes_with_ids(app: Any) -> list[tuple[str, str, frozenset[PrincipalKind]]]:
    found = []
    for route in api_routes(app):
        if "{" not in route.path or route.path in SECRET_IN_PATH:
            continue
        allowed = allowed_kinds(route)
        assert allowed is not None, f"{route.path} has no role dependency"
        for method in route.methods:
            found.append((method, route.path, allowed))
    return found


async def _foreign_objects(world: World) -> dict[str, str]:
    other = await world.tenant("Other")
    location = await other.location()
    station = await other.station(location)
    device = await other.device(location)
    job = await other.job(location)
    key = await world.client.post(
        "/v1/api-keys", json={"name": "k", "role": "pos"}, headers=other.manager
    )
    webhook = await world.client.post(
        "/v1/webhooks",
        json={"url": "https://93.184.215.14/hooks", "events": ["device.status"]},
        headers=other.manager,
    )
    assert webhook.status_code == 201, webhook.text
    return {
        "location_id": location,
        "station_id": station,
        "job_id": job["id"],
        "device_id": device.id,
        "key_id": key.json()["id"],
        "webhook_id": webhook.json()["id"],
    }


async def test_every_route_with_an_id_is_isolated_by_tenant_and_role(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    own_device = await tenant.device(location)
    principals = {
        PrincipalKind.MANAGER: tenant.manager,
        PrincipalKind.POS: tenant.pos,
        PrincipalKind.DEVICE: own_device.headers,
    }
    foreign = await _foreign_objects(world)
    routes = routes_with_ids(world.app)
    assert len(routes) >= 11  # the matrix must not silently shrink (11 routes take an ID today)
    checked = 0
    for method, path, allowed in routes:
        params = re.findall(r"{(\w+)}", path)
        unknown = set(params) - set(foreign)
        assert not unknown, f"teach the matrix to make a {unknown} for {method} {path}"
        body = BODIES.get((method, path))
        query = QUERIES.get((method, path))
        for kind, headers in principals.items():
            theirs = await world.client.request(
                method, path.format(**foreign), params=query, json=body, headers=headers
            )
            missing = await world.client.request(
                method,
                path.format(**{p: str(uuid.uuid4()) for p in params}),
                params=query,
                json=body,
                headers=headers,
            )
            if kind in allowed:
                assert_error(theirs, 404, "not_found")
                assert theirs.json() == missing.json(), (method, path, kind)  # indistinguishable
            else:
                assert_error(theirs, 403, "forbidden")
            checked += 1
    print(f"\nisolation matrix: {checked} (route, principal) cells")


async def test_revoked_secrets_get_401_on_every_route(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    manager_keys = await world.client.get("/v1/api-keys", headers=tenant.manager)
    pos_key = next(k for k in manager_keys.json()["items"] if k["role"] == "pos")
    assert (
        await world.client.delete(f"/v1/api-keys/{pos_key['id']}", headers=tenant.manager)
    ).status_code == 204
    assert (
        await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    ).status_code == 204
    foreign = {
        "location_id": location,
        "station_id": await tenant.station(location),
        "job_id": str(uuid.uuid4()),
        "device_id": device.id,
        "key_id": pos_key["id"],
        "webhook_id": str(uuid.uuid4()),
    }
    checked = 0
    for route in api_routes(world.app):
        if not route.path.startswith("/v1/") or route.path == "/v1/devices/pair":
            continue
        for method in route.methods:
            checked += 1
            for headers in (tenant.pos, device.headers, bearer("prk_never-issued")):
                r = await world.client.request(
                    method,
                    route.path.format(**foreign),
                    json=BODIES.get((method, route.path)),
                    headers=headers,
                )
                assert_error(r, 401, "unauthorized")
    assert checked >= 22  # every /v1 route but pairing (22 today); a broken walk finds none


@pytest.mark.parametrize("where", ["query", "path"])
async def test_secrets_are_never_accepted_in_urls(world: World, where: str) -> None:
    tenant = await world.tenant()
    if where == "query":
        r = await world.client.get(
            "/v1/locations",
            params={"api_key": tenant.manager_secret, "token": tenant.manager_secret},
        )
    else:
        r = await world.client.get(f"/v1/locations?access_token={tenant.manager_secret}")
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize("body", [b"\x00", b"{not json", b'{"status": "bogus"}'])
async def test_credentials_are_checked_before_the_body_is_read(world: World, body: bytes) -> None:
    """No valid credential, no word about the body: a revoked token sending garbage gets 401,
    a wrong role 403, never 422 (the fuzzer found the 422)."""
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    job = await tenant.job(location)
    path = f"/v1/print-jobs/{job['id']}"
    headers = {"Content-Type": "application/json"}
    r = await world.client.patch(path, content=body, headers={**headers, **tenant.pos})
    assert_error(r, 403, "forbidden")
    assert (
        await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    ).status_code == 204
    r = await world.client.patch(path, content=body, headers={**headers, **device.headers})
    assert_error(r, 401, "unauthorized")
    r = await world.client.post("/v1/locations", content=body, headers=headers)
    assert_error(r, 401, "unauthorized")
    # With a valid credential the body is judged: 422.
    r = await world.client.post(
        "/v1/locations", content=body, headers={**headers, **tenant.manager}
    )
    assert_error(r, 422, "validation_error")
