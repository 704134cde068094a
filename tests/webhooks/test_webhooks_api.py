"""The webhook endpoints: roles, input errors, the secret shown once, tenant isolation."""

from __future__ import annotations

import uuid

import pytest

from tests.world import World, assert_error

URL = "https://93.184.215.14/hooks"  # a public address: no DNS needed


async def test_manager_creates_lists_and_deletes_a_webhook(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    r = await world.client.post(
        "/v1/webhooks",
        json={
            "url": URL,
            "events": ["print_job.updated", "device.status"],
            "location_id": location,
        },
        headers=tenant.manager,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["print_job.updated", "device.status"]
    assert created["location_id"] == location
    listed = (await world.client.get("/v1/webhooks", headers=tenant.manager)).json()["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]  # shown once, at creation
    r = await world.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=tenant.manager)
    assert r.status_code == 200 and r.json()["items"] == []
    r = await world.client.delete(f"/v1/webhooks/{created['id']}", headers=tenant.manager)
    assert r.status_code == 204
    assert (await world.client.get("/v1/webhooks", headers=tenant.manager)).json()["items"] == []


async def test_another_tenants_webhook_is_not_found(world: World) -> None:
    owner, other = await world.tenant("A"), await world.tenant("B")
    r = await world.client.post(
        "/v1/webhooks", json={"url": URL, "events": ["device.status"]}, headers=owner.manager
    )
    hook = r.json()["id"]
    assert_error(
        await world.client.delete(f"/v1/webhooks/{hook}", headers=other.manager), 404, "not_found"
    )
    assert_error(
        await world.client.get(f"/v1/webhooks/{hook}/deliveries", headers=other.manager),
        404,
        "not_found",
    )
    assert (await world.client.get("/v1/webhooks", headers=other.manager)).json()["items"] == []
    # Nor may a webhook name another tenant's location.
    foreign = await owner.location()
    r = await world.client.post(
        "/v1/webhooks",
        json={"url": URL, "events": ["device.status"], "location_id": foreign},
        headers=other.manager,
    )
    assert_error(r, 404, "not_found")
    listed = (await world.client.get("/v1/webhooks", headers=owner.manager)).json()["items"]
    assert [w["id"] for w in listed] == [hook]


async def test_pos_keys_may_not_manage_webhooks(world: World) -> None:
    tenant = await world.tenant()
    r = await world.client.post(
        "/v1/webhooks", json={"url": URL, "events": ["device.status"]}, headers=tenant.pos
    )
    assert_error(r, 403, "forbidden")
    assert_error(await world.client.get("/v1/webhooks", headers=tenant.pos), 403, "forbidden")


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL, "events": []},
        {"url": URL, "events": ["job.created"]},
        {"url": URL, "events": ["device.status", "device.status"]},
        {"url": URL},
        {"events": ["device.status"]},
        {"url": "ftp://93.184.215.14/x", "events": ["device.status"]},
        {"url": "http://127.0.0.1:8000/x", "events": ["device.status"]},
        {"url": "http://[::1]/x", "events": ["device.status"]},
        {"url": "http://[::ffff:10.0.0.1]/x", "events": ["device.status"]},
        {"url": "http://169.254.169.254/latest/meta-data", "events": ["device.status"]},
        {"url": "http://localhost/x", "events": ["device.status"]},
        {"url": URL, "events": ["device.status"], "location_id": "nope"},
        {"url": URL, "events": ["device.status"], "tenant_id": str(uuid.uuid4())},
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(world: World, body: object) -> None:
    tenant = await world.tenant()
    r = await world.client.post("/v1/webhooks", json=body, headers=tenant.manager)
    assert_error(r, 422, "validation_error")
    assert (await world.client.get("/v1/webhooks", headers=tenant.manager)).json()["items"] == []
