"""The principal cache (app/auth/cache.py) never lets a revoked secret write: revocation through
the API evicts at once, and where an eviction was missed (a process that lost the bus message)
the writes that matter check the credential in the same SQL that does them."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from app.db import utcnow
from app.models import ApiKey, Device
from tests.world import World, assert_error


async def test_revoking_through_the_api_stops_a_cached_key_at_once(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    assert (await world.client.get("/v1/locations", headers=tenant.pos)).status_code == 200
    keys = (await world.client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
    pos = next(k for k in keys if k["role"] == "pos")
    r = await world.client.delete(f"/v1/api-keys/{pos['id']}", headers=tenant.manager)
    assert r.status_code == 204
    assert_error(await world.client.get("/v1/locations", headers=tenant.pos), 401, "unauthorized")
    body = {"location_id": location, "document": {"blocks": [{"type": "cut"}]}}
    r = await world.client.post("/v1/print-jobs", json=body, headers=tenant.pos)
    assert_error(r, 401, "unauthorized")


async def test_a_missed_eviction_still_cannot_submit_claim_or_report(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    job = await tenant.job(location)
    second = await tenant.job(location)
    assert (await world.claim(device, job["id"])).status_code == 200
    assert (await world.client.get("/v1/locations", headers=tenant.pos)).status_code == 200
    keys = (await world.client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
    pos_id = uuid.UUID(next(k for k in keys if k["role"] == "pos")["id"])
    # Both secrets are cached now. Revoke them behind the cache's back, as a process that
    # missed the bus message would see it.
    async with world.app.state.db.transaction() as tx:
        now = utcnow()
        await tx.session.execute(update(ApiKey).where(ApiKey.id == pos_id).values(revoked_at=now))
        device_id = uuid.UUID(device.id)
        await tx.session.execute(
            update(Device).where(Device.id == device_id).values(revoked_at=now)
        )
    body = {"location_id": location, "document": {"blocks": [{"type": "cut"}]}}
    r = await world.client.post("/v1/print-jobs", json=body, headers=tenant.pos)
    assert_error(r, 401, "unauthorized")
    assert_error(await world.claim(device, second["id"]), 401, "unauthorized")
    assert_error(await world.report(device, job["id"], "printed"), 401, "unauthorized")
    # Reads may still pass until the cache entry's TTL (10 s by default) runs out: the bound.
    assert (await world.client.get("/v1/locations", headers=tenant.pos)).status_code == 200
