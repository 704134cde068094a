"""Whatever takes a station's only bridge away offers the station's pending jobs to the location
bridges, once: a clean disconnect and an unpair here; the sweeper after a crash in
tests/faults/test_station_crash.py (issue 19 item 7)."""

from __future__ import annotations

import pytest

from tests.realtime.clients import bridge
from tests.world import World


@pytest.mark.parametrize("how", ["disconnect", "unpair"])
async def test_a_station_losing_its_bridge_offers_its_jobs_to_the_location_once(
    server: str, rest: World, how: str
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    loc = await bridge(server, (await tenant.device(location)).token).connect()
    st_device = await tenant.device(location, station)
    st = await bridge(server, st_device.token).connect()
    try:
        await loc.wait_for("bridge.owner")
        await st.wait_for("bridge.owner")
        job = await tenant.job(location, station)
        assert [j["id"] for j in await st.wait_for("print_job.new")] == [job["id"]]
        assert loc.of("print_job.new") == []
        if how == "unpair":
            r = await rest.client.delete(f"/v1/devices/{st_device.id}", headers=tenant.manager)
            assert r.status_code == 204
        else:
            await st.close()
        assert [j["id"] for j in await loc.wait_for("print_job.new")] == [job["id"]]
        assert [j["id"] for j in await loc.quiet("print_job.new")] == [job["id"]]
    finally:
        await loc.close()
        await st.close()
