"""``print_job.new`` (live and the owner's backlog) and the claim's ack carry each job's
``paper_width_mm``, against a real server in both modes (the backlog's SQL on PostgreSQL is
app/devices/hot_path.py's)."""

from __future__ import annotations

from tests.realtime.clients import bridge
from tests.world import World


async def test_offers_and_claims_carry_each_jobs_paper_width(server: str, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    narrow = await tenant.station(location, "BAR", 58)
    wide = await tenant.station(location, "COCINA", 80)
    device = await tenant.device(location)  # a location bridge; the stations have none
    waiting = await tenant.job(location, narrow)  # offered in the backlog
    b = await bridge(server, device.token).connect()
    try:
        (owner,) = await b.wait_for("bridge.owner")
        await b.wait_for("print_job.new")
        live = [await tenant.job(location, s) for s in (narrow, wide, None)]
        offers = await b.wait_for("print_job.new", 4)
        widths = {j["id"]: j["paper_width_mm"] for j in offers}
        assert widths == {
            waiting["id"]: 58,
            live[0]["id"]: 58,
            live[1]["id"]: 80,
            live[2]["id"]: 80,
        }
        ack = await b.call("print_job.claim", {"id": waiting["id"], "epoch": owner["epoch"]})
        assert ack["ok"] is True and ack["job"]["paper_width_mm"] == 58
    finally:
        await b.close()
    other = await rest.tenant("B")
    r = await rest.client.get(f"/v1/print-jobs/{waiting['id']}", headers=other.manager)
    assert r.status_code == 404
