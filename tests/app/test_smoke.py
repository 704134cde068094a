import gc

from app.config import Settings
from app.main import GC_YOUNG_THRESHOLD, create_app
from tests.world import World


async def test_healthz_and_first_tenant(world: World) -> None:
    r = await world.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    assert job["status"] == "pending"


async def test_the_served_app_hides_its_startup_objects_from_the_collector(
    settings: Settings,
) -> None:
    """`printrelay serve` freezes what start-up made (a full collection used to walk it all:
    75 ms pauses under load) and collects the young generation less often; an app built for
    tests leaves the collector alone."""
    gc.unfreeze()
    thresholds = gc.get_threshold()
    plain = create_app(settings, run_sweeper=False)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds
    served = create_app(settings, run_sweeper=False, freeze_gc=True)
    try:
        async with served.router.lifespan_context(served):
            frozen = gc.get_freeze_count()
            assert frozen > 10_000, frozen
            assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
