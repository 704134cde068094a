"""POST /v1/tenants and the API keys of a tenant: who may call, what comes back, revocation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.world import ADMIN, ADMIN_TOKEN, Tenant, World, assert_error, bearer


async def tenant_count(world: World) -> int:
    """Rows in the tenants table: POST /v1/tenants has no list route to check against."""
    from app.models import Tenant as TenantRow

    async with world.app.state.db.transaction() as tx:
        count: int = (
            await tx.session.execute(select(func.count()).select_from(TenantRow))
        ).scalar_one()
    return count


async def list_keys(world: World, tenant: Tenant) -> list[dict[str, Any]]:
    r = await world.client.get("/v1/api-keys", headers=tenant.manager)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def new_key(world: World, tenant: Tenant, role: str, name: str = "key") -> dict[str, Any]:
    r = await world.client.post(
        "/v1/api-keys", json={"name": name, "role": role}, headers=tenant.manager
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# --- POST /v1/tenants ------------------------------------------------------------------------


async def test_admin_creates_tenant_with_first_manager_key(world: World) -> None:
    r = await world.client.post("/v1/tenants", json={"name": "  Cafe Uno  "}, headers=ADMIN)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"tenant", "api_key"}
    assert body["tenant"]["name"] == "Cafe Uno"
    uuid.UUID(body["tenant"]["id"])
    key = body["api_key"]
    uuid.UUID(key["id"])
    assert key["role"] == "manager"
    assert key["secret"].startswith("prk_")
    assert len(key["secret"]) >= len("prk_") + 22  # >= 128 random bits, base64url

    # The first key is a working manager key of exactly this tenant.
    manager = bearer(key["secret"])
    listed = await world.client.get("/v1/api-keys", headers=manager)
    assert listed.status_code == 200, listed.text
    assert [k["id"] for k in listed.json()["items"]] == [key["id"]]
    loc = await world.client.post("/v1/locations", json={"name": "Main"}, headers=manager)
    assert loc.status_code == 201, loc.text


async def test_each_tenant_gets_distinct_ids_and_secrets(world: World) -> None:
    bodies = []
    for _ in range(2):
        r = await world.client.post("/v1/tenants", json={"name": "Same"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        bodies.append(r.json())
    assert bodies[0]["tenant"]["id"] != bodies[1]["tenant"]["id"]
    assert bodies[0]["api_key"]["secret"] != bodies[1]["api_key"]["secret"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": ADMIN_TOKEN},
        bearer("wrong-admin-token-" + "y" * 32),
        bearer(ADMIN_TOKEN + "x"),
        bearer("prk_notarealkey"),
        bearer("prd_notarealtoken"),
    ],
    ids=["none", "empty", "basic", "no-scheme", "wrong", "longer", "fake-key", "fake-device"],
)
async def test_create_tenant_without_admin_credential_is_401(
    world: World, headers: dict[str, str]
) -> None:
    before = await tenant_count(world)
    r = await world.client.post("/v1/tenants", json={"name": "Intruder"}, headers=headers)
    assert_error(r, 401, "unauthorized")
    assert await tenant_count(world) == before


async def test_create_tenant_with_api_key_or_device_is_403(world: World) -> None:
    tenant = await world.tenant()
    device = await tenant.device(await tenant.location())
    before = await tenant_count(world)
    for headers in (tenant.manager, tenant.pos, device.headers):
        r = await world.client.post("/v1/tenants", json={"name": "Other"}, headers=headers)
        assert_error(r, 403, "forbidden")
    assert await tenant_count(world) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": None},
        {"name": 42},
        {"name": "Cafe", "plan": "gold"},
        [],
    ],
    ids=["missing", "empty", "blank", "too-long", "null", "number", "unknown-field", "array"],
)
async def test_create_tenant_rejects_bad_input(world: World, body: Any) -> None:
    before = await tenant_count(world)
    r = await world.client.post("/v1/tenants", json=body, headers=ADMIN)
    assert_error(r, 422, "validation_error")
    assert await tenant_count(world) == before


async def test_create_tenant_rejects_non_json_body(world: World) -> None:
    before = await tenant_count(world)
    r = await world.client.post(
        "/v1/tenants",
        content=b"name=Cafe",
        headers={**ADMIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(r, 422, "validation_error")
    assert await tenant_count(world) == before


async def test_admin_token_is_not_a_tenant_credential(world: World) -> None:
    r = await world.client.get("/v1/api-keys", headers=ADMIN)
    assert_error(r, 403, "forbidden")
    r = await world.client.post("/v1/locations", json={"name": "x"}, headers=ADMIN)
    assert_error(r, 403, "forbidden")


# --- POST /v1/api-keys -----------------------------------------------------------------------


async def test_manager_creates_pos_key_that_works_at_once(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    key = await new_key(world, tenant, "pos", "till 2")
    assert key["name"] == "till 2" and key["role"] == "pos"
    uuid.UUID(key["id"])
    assert key["secret"].startswith("prk_")

    pos = bearer(key["secret"])
    r = await world.client.get("/v1/locations", headers=pos)
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == [location]
    job = await tenant.job(location, headers=pos)
    assert job["status"] == "pending"
    # ...and it is a pos key, not a manager key.
    r = await world.client.post("/v1/locations", json={"name": "x"}, headers=pos)
    assert_error(r, 403, "forbidden")


async def test_manager_creates_manager_key_that_works_at_once(world: World) -> None:
    tenant = await world.tenant()
    key = await new_key(world, tenant, "manager", "owner laptop")
    assert key["role"] == "manager" and key["secret"].startswith("prk_")
    manager = bearer(key["secret"])
    r = await world.client.post("/v1/locations", json={"name": "Second"}, headers=manager)
    assert r.status_code == 201, r.text
    r = await world.client.post("/v1/api-keys", json={"name": "k", "role": "pos"}, headers=manager)
    assert r.status_code == 201, r.text


async def test_secrets_are_unique(world: World) -> None:
    tenant = await world.tenant()
    secrets = {(await new_key(world, tenant, "pos"))["secret"] for _ in range(5)}
    assert len(secrets) == 5
    assert tenant.manager_secret not in secrets and tenant.pos_secret not in secrets


async def test_pos_key_and_device_may_not_create_keys(world: World) -> None:
    tenant = await world.tenant()
    device = await tenant.device(await tenant.location())
    before = await list_keys(world, tenant)
    for headers in (tenant.pos, device.headers):
        for role in ("pos", "manager"):
            r = await world.client.post(
                "/v1/api-keys", json={"name": "escalate", "role": role}, headers=headers
            )
            assert_error(r, 403, "forbidden")
    assert await list_keys(world, tenant) == before


async def test_create_key_without_credential_is_401(world: World) -> None:
    r = await world.client.post("/v1/api-keys", json={"name": "k", "role": "pos"})
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "role": "admin"},
        {"name": "k", "role": "MANAGER"},
        {"name": "k", "role": ""},
        {"name": "k", "role": None},
        {"name": "k"},
        {"role": "pos"},
        {"name": "", "role": "pos"},
        {"name": "x" * 201, "role": "pos"},
        {"name": "k", "role": "pos", "tenant_id": str(uuid.uuid4())},
    ],
    ids=[
        "role-admin",
        "role-upper",
        "role-empty",
        "role-null",
        "no-role",
        "no-name",
        "empty-name",
        "long-name",
        "unknown-field",
    ],
)
async def test_create_key_rejects_bad_input(world: World, body: dict[str, Any]) -> None:
    tenant = await world.tenant()
    before = await list_keys(world, tenant)
    r = await world.client.post("/v1/api-keys", json=body, headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    assert await list_keys(world, tenant) == before


# --- GET /v1/api-keys ------------------------------------------------------------------------


async def test_list_keys_shows_own_keys_without_secrets(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    extra = await new_key(world, tenant, "manager", "second manager")
    items = await list_keys(world, tenant)
    # The first manager key, the pos key made by World.tenant(), and the new one.
    assert len(items) == 3
    by_id = {k["id"]: k for k in items}
    assert by_id[extra["id"]]["role"] == "manager"
    assert by_id[extra["id"]]["name"] == "second manager"
    assert sorted(k["role"] for k in items) == ["manager", "manager", "pos"]
    for k in items:
        assert "secret" not in k and "secret_hash" not in k, k
        for secret in (tenant.manager_secret, tenant.pos_secret, extra["secret"]):
            assert secret not in str(k)
    other_ids = {k["id"] for k in await list_keys(world, other)}
    assert other_ids and not other_ids & set(by_id)


async def test_list_keys_is_manager_only(world: World) -> None:
    tenant = await world.tenant()
    device = await tenant.device(await tenant.location())
    for headers in (tenant.pos, device.headers):
        assert_error(await world.client.get("/v1/api-keys", headers=headers), 403, "forbidden")
    assert_error(await world.client.get("/v1/api-keys"), 401, "unauthorized")


# --- DELETE /v1/api-keys/{id} ----------------------------------------------------------------


async def assert_revoked(client: httpx.AsyncClient, secret: str, location: str) -> None:
    headers = bearer(secret)
    for r in (
        await client.get("/v1/locations", headers=headers),
        await client.get("/v1/api-keys", headers=headers),
        await client.get(f"/v1/locations/{location}/stations", headers=headers),
        await client.get("/v1/print-jobs", headers=headers),
        await client.post(
            "/v1/print-jobs",
            json={"location_id": location, "raw": {"encoding": "base64", "data": "AA=="}},
            headers=headers,
        ),
        await client.post("/v1/api-keys", json={"name": "k", "role": "pos"}, headers=headers),
    ):
        assert_error(r, 401, "unauthorized")


async def test_deleted_pos_key_gets_401_everywhere(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    key = await new_key(world, tenant, "pos")
    assert (await world.client.get("/v1/locations", headers=bearer(key["secret"]))).is_success

    r = await world.client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.manager)
    assert r.status_code == 204, r.text
    assert r.content == b""
    await assert_revoked(world.client, key["secret"], location)
    assert key["id"] not in {k["id"] for k in await list_keys(world, tenant)}
    # Other keys of the tenant are untouched.
    assert (await world.client.get("/v1/locations", headers=tenant.pos)).status_code == 200


async def test_deleted_manager_key_gets_401_everywhere(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    key = await new_key(world, tenant, "manager")
    r = await world.client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.manager)
    assert r.status_code == 204, r.text
    await assert_revoked(world.client, key["secret"], location)


async def test_deleting_twice_is_404(world: World) -> None:
    tenant = await world.tenant()
    key = await new_key(world, tenant, "pos")
    first = await world.client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.manager)
    assert first.status_code == 204, first.text
    second = await world.client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.manager)
    assert_error(second, 404, "not_found")


async def test_deleting_unknown_key_is_404(world: World) -> None:
    tenant = await world.tenant()
    before = await list_keys(world, tenant)
    r = await world.client.delete(f"/v1/api-keys/{uuid.uuid4()}", headers=tenant.manager)
    assert_error(r, 404, "not_found")
    assert await list_keys(world, tenant) == before


async def test_other_tenants_manager_cannot_delete_key(world: World) -> None:
    tenant = await world.tenant()
    other = await world.tenant("Other")
    key = await new_key(world, tenant, "pos")
    for target in (key["id"], (await list_keys(world, tenant))[0]["id"]):
        r = await world.client.delete(f"/v1/api-keys/{target}", headers=other.manager)
        assert_error(r, 404, "not_found")
    assert (await world.client.get("/v1/locations", headers=bearer(key["secret"]))).is_success
    assert (await world.client.get("/v1/api-keys", headers=tenant.manager)).is_success
    assert key["id"] in {k["id"] for k in await list_keys(world, tenant)}


@pytest.mark.parametrize("key_id", ["not-a-uuid", "123", str(uuid.uuid4()) + "0"])
async def test_deleting_malformed_id_is_422(world: World, key_id: str) -> None:
    tenant = await world.tenant()
    before = await list_keys(world, tenant)
    r = await world.client.delete(f"/v1/api-keys/{key_id}", headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    assert await list_keys(world, tenant) == before


async def test_pos_key_and_device_may_not_delete_keys(world: World) -> None:
    tenant = await world.tenant()
    device = await tenant.device(await tenant.location())
    key = await new_key(world, tenant, "pos")
    for headers in (tenant.pos, device.headers, bearer(key["secret"])):
        r = await world.client.delete(f"/v1/api-keys/{key['id']}", headers=headers)
        assert_error(r, 403, "forbidden")
    r = await world.client.delete(f"/v1/api-keys/{key['id']}")
    assert_error(r, 401, "unauthorized")
    assert (await world.client.get("/v1/locations", headers=bearer(key["secret"]))).is_success
