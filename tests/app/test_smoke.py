from tests.world import World


async def test_healthz_and_first_tenant(world: World) -> None:
    r = await world.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    assert job["status"] == "pending"
