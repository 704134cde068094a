"""A simulated Star CloudPRNT printer (``printer_sim``, written from Star's documentation)
against a real server, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.cloudprnt.conftest import Server
from tests.cloudprnt.printer_sim import (
    ASB_COVER_OPEN,
    ASB_NEAR_END,
    ASB_OK,
    PNG_ONLY,
    CloudPrntPrinter,
)
from tests.realtime.clients import bridge, watcher
from tests.world import Tenant, World, assert_error

# The server draws PNGs: it needs the renderer's font (skipped locally without it).
pytestmark = pytest.mark.usefixtures("cell_font")

DRAWER_TICKET: dict[str, Any] = {
    "blocks": [
        {"type": "text", "text": "CAJA", "align": "center", "size": "double"},
        {"type": "row", "left": "1x Cafe", "right": "1.50"},
        {"type": "cut", "mode": "partial"},
    ]
}


async def add_printer(
    world: World, tenant: Tenant, location: str, station: str | None = None
) -> tuple[dict[str, Any], str]:
    r = await world.client.post(
        "/v1/cloudprnt-printers",
        json={"location_id": location, "station_id": station, "name": "Star TSP143IV"},
        headers=tenant.manager,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return body["device"], body["server_url"]


async def job_of(world: World, tenant: Tenant, job_id: str) -> dict[str, Any]:
    r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.pos)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


async def device_of(world: World, tenant: Tenant, device_id: str) -> dict[str, Any]:
    r = await world.client.get("/v1/devices", headers=tenant.manager)
    (device,) = [d for d in r.json()["items"] if d["id"] == device_id]
    found: dict[str, Any] = device
    return found


async def test_a_manager_adds_a_printer_and_gets_its_url_once(server: Server, rest: World) -> None:
    tenant = await rest.tenant()
    location = await rest_location(tenant)
    station = await tenant.station(location, "BARRA", width=58)
    device, url = await add_printer(rest, tenant, location, station)
    assert device["kind"] == "cloudprnt" and device["station_id"] == station
    assert device["online"] is False and device["printer_state"] == "unknown"
    assert url.startswith(f"{server.url}/cloudprnt/prc_")
    secret = url.rsplit("/", 1)[1]
    assert len(base64.urlsafe_b64decode(secret[4:] + "==")) * 8 >= 128
    listed = (await rest.client.get("/v1/devices", headers=tenant.manager)).json()["items"]
    assert [d["id"] for d in listed] == [device["id"]]
    assert secret not in str(listed)
    # The URL's secret is no API credential, and a POS key may not add printers.
    assert_error(
        await rest.client.get("/v1/devices/me", headers={"Authorization": f"Bearer {secret}"}),
        401,
        "unauthorized",
    )
    body = {"location_id": location, "name": "x"}
    r = await rest.client.post("/v1/cloudprnt-printers", json=body, headers=tenant.pos)
    assert_error(r, 403, "forbidden")
    # Another tenant's location or station is not found, and nothing is made.
    other = await rest.tenant("Other")
    r = await rest.client.post("/v1/cloudprnt-printers", json=body, headers=other.manager)
    assert_error(r, 404, "not_found")
    other_location = await rest_location(other)
    r = await rest.client.post(
        "/v1/cloudprnt-printers",
        json={"location_id": other_location, "station_id": station, "name": "x"},
        headers=other.manager,
    )
    assert_error(r, 404, "not_found")
    r = await rest.client.post(
        "/v1/cloudprnt-printers", json={"location_id": location}, headers=tenant.manager
    )
    assert_error(r, 422, "validation_error")
    assert (await rest.client.get("/v1/devices", headers=other.manager)).json()["items"] == []


async def rest_location(tenant: Tenant) -> str:
    return await tenant.location()


async def test_poll_fetch_confirm_prints_a_ticket_as_a_picture_with_the_drawer(
    server: Server, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "CAJA", width=80)
    device, url = await add_printer(rest, tenant, location, station)
    printer = CloudPrntPrinter(rest.client, url, poll_interval_s=2)

    first = await printer.poll()  # the server asks what it needs to know first
    assert first["jobReady"] is False
    asked = {a["request"] for a in first["clientAction"]}
    assert asked == {"GetPollInterval", "Encodings"}
    assert await printer.poll() == {"jobReady": False}  # answers given; nothing to print
    me = await device_of(rest, tenant, device["id"])
    assert me["online"] is True and me["printer_state"] == "online"

    job = await tenant.job(location, station, document=DRAWER_TICKET, drawer_pulse=True)
    ready = await printer.poll()
    assert ready["jobReady"] is True and ready["mediaTypes"] == ["image/png"]
    assert ready["jobToken"] == job["id"]
    assert (await job_of(rest, tenant, job["id"]))["status"] == "pending"  # a poll claims nothing

    fetched = await printer.fetch("image/png", ready["jobToken"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["x-star-cashdrawer"] == "start"
    assert fetched.headers["x-star-cut"] == "partial; feed=true"
    picture = Image.open(io.BytesIO(fetched.content))
    assert picture.width == 576 and picture.mode == "1"
    claimed = await job_of(rest, tenant, job["id"])
    assert claimed["status"] == "sent" and claimed["claimed_by"] == device["id"]

    again = await printer.fetch("image/png", ready["jobToken"])  # a printer may fetch again
    assert again.status_code == 200 and again.content == fetched.content
    assert (await printer.poll())["jobToken"] == job["id"]  # still its job until confirmed

    done = await printer.confirm("200 OK", ready["jobToken"])
    assert done.status_code == 200
    assert (await job_of(rest, tenant, job["id"]))["status"] == "printed"
    assert (await printer.confirm("200 OK", ready["jobToken"])).status_code == 200  # a repeat
    gone = await printer.fetch("image/png", ready["jobToken"])
    assert_error(gone, 404, "not_found")
    assert await printer.poll() == {"jobReady": False}


async def test_a_failure_code_fails_the_job_with_that_code(server: Server, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "BARRA", width=58)
    _, url = await add_printer(rest, tenant, location, station)
    printer = CloudPrntPrinter(rest.client, url)
    await printer.poll_until_settled()
    job = await tenant.job(location, station)
    busy = await printer.post(printing=True)  # the guide: jobReady is ignored while printing
    assert busy.status_code == 200 and busy.json() == {"jobReady": False}
    ready = await printer.poll()
    fetched = await printer.fetch(None, ready["jobToken"])  # no type: the server's choice
    assert fetched.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(fetched.content)).width == 384  # 58 mm paper
    assert fetched.headers["x-star-cashdrawer"] == "none"
    r = await printer.confirm("511 Media decoding error", ready["jobToken"])
    assert r.status_code == 200
    failed = await job_of(rest, tenant, job["id"])
    assert failed["status"] == "failed" and failed["error"] == "511 Media decoding error"
    # A confirmation without a code is refused and changes nothing.
    second = await tenant.job(location, station)
    token = (await printer.poll())["jobToken"]
    assert token == second["id"]
    assert (await printer.fetch("image/png", token)).status_code == 200
    r = await rest.client.delete(f"{url}?mac={printer.mac}&token={token}")
    assert_error(r, 422, "validation_error")
    assert (await job_of(rest, tenant, second["id"]))["status"] == "sent"
    # A picture job asked for as another type is 415, and stays the printer's.
    assert_error(await printer.fetch("text/plain", token), 415, "unsupported_media")
    assert (await job_of(rest, tenant, second["id"]))["status"] == "sent"
    # A pending job asked for in a type it is not served in is 415 and is not claimed.
    third = await tenant.job(location, station)
    assert_error(await printer.fetch("text/plain", third["id"]), 415, "unsupported_media")
    assert (await job_of(rest, tenant, third["id"]))["status"] == "pending"


async def test_raw_jobs_go_in_the_printers_command_language_or_fail(
    server: Server, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    one = await tenant.station(location, "ONE")
    two = await tenant.station(location, "TWO")
    _, url_line = await add_printer(rest, tenant, location, one)
    _, url_png = await add_printer(rest, tenant, location, two)
    line = CloudPrntPrinter(rest.client, url_line, mac="00:11:62:00:00:01")
    png_only = CloudPrntPrinter(rest.client, url_png, mac="00:11:62:00:00:02", encodings=PNG_ONLY)
    await line.poll_until_settled()
    await png_only.poll_until_settled()

    star_line = b"\x1b\x1d\x61\x01Star line mode\n\x07"
    raw = {"encoding": "base64", "data": base64.b64encode(star_line).decode()}
    job = await tenant.job(location, one, raw=raw)
    printed = await line.print_next()
    assert printed is not None and printed.token == job["id"]
    assert printed.media_type == "application/vnd.star.line" and printed.body == star_line
    assert (await job_of(rest, tenant, job["id"]))["status"] == "printed"

    unprintable = await tenant.job(location, two, raw=raw)
    assert await png_only.poll() == {"jobReady": False}
    failed = await job_of(rest, tenant, unprintable["id"])
    assert failed["status"] == "failed" and failed["error"] == "unsupported_media"


async def test_a_poll_from_another_mac_is_refused_and_logged(server: Server, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device, url = await add_printer(rest, tenant, location)
    printer = CloudPrntPrinter(rest.client, url, mac="00:11:62:aa:bb:cc")
    await printer.poll_until_settled()
    job = await tenant.job(location)
    imposter = CloudPrntPrinter(rest.client, url, mac="00-11-62-DD-EE-FF")
    refused = await imposter.post()
    assert_error(refused, 403, "forbidden")
    assert_error(await imposter.fetch("image/png", job["id"]), 403, "forbidden")
    assert_error(await imposter.confirm("200 OK", job["id"]), 403, "forbidden")
    assert (await job_of(rest, tenant, job["id"]))["status"] == "pending"
    assert f"cloudprnt printer {device['id']}: request from MAC 00:11:62:dd:ee:ff refused" in (
        server.log()
    )
    # The printer's own MAC, however spelt, is still itself.
    printer.mac = "00-11-62-AA-BB-CC"
    printed = await printer.print_next()
    assert printed is not None and printed.token == job["id"]
    bad = await rest.client.post(url, json={"statusCode": "200%20OK", "printerMAC": "nope"})
    assert_error(bad, 422, "validation_error")
    no_code = await rest.client.post(url, json={"printerMAC": printer.mac})
    assert_error(no_code, 422, "validation_error")


async def test_status_becomes_printer_state_and_reaches_watchers(
    server: Server, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device, url = await add_printer(rest, tenant, location)
    printer = CloudPrntPrinter(rest.client, url)
    w = await watcher(server.url, tenant.manager_secret).connect()
    try:
        assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
        await printer.poll_until_settled()
        (online,) = await w.wait_for("device.status")
        assert online == {"device_id": device["id"], "online": True, "station_id": None}
        expected = ["online"]  # unknown until the first poll
        for code, asb, state in [
            ("410 Out of paper", ASB_OK, "paper_out"),
            ("200 OK", ASB_OK, "online"),
            ("210 Paper low", None, "paper_low"),
            ("200 OK", ASB_NEAR_END, "paper_low"),
            ("420 Cover open", ASB_COVER_OPEN, "cover_open"),
            ("411 Paper jam", ASB_OK, "error"),
        ]:
            printer.status_code, printer.asb = code, asb
            await printer.poll()
            if expected[-1] != state:
                expected.append(state)
            assert (await device_of(rest, tenant, device["id"]))["printer_state"] == state
        relayed = await w.wait_for("printer.status", len(expected))
        assert [r["state"] for r in relayed] == expected
        assert relayed[1] == {
            "device_id": device["id"],
            "printer": f"cloudprnt:{printer.mac}",
            "state": "paper_out",
        }
        job = await tenant.job(location)
        assert (await printer.poll())["jobToken"] == job["id"]  # the server offers; it decides
    finally:
        await w.close()


async def test_a_silent_printer_goes_offline_and_its_station_falls_back(
    server: Server, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    device, url = await add_printer(rest, tenant, location, station)
    printer = CloudPrntPrinter(rest.client, url, poll_interval_s=1)
    location_bridge = await tenant.device(location)
    b = await bridge(server.url, location_bridge.token).connect()
    w = await watcher(server.url, tenant.manager_secret).connect()
    try:
        await b.wait_for("bridge.owner")
        assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
        await printer.poll_until_settled()
        await w.wait_for("device.status")
        job = await tenant.job(location, station)
        # The printer is the station's bridge: the location bridge may not take its jobs.
        assert await b.quiet("print_job.new") == []
        e = (b.of("bridge.owner"))[0]["epoch"]
        taken = await b.call("print_job.claim", {"id": job["id"], "epoch": e})
        assert taken["error"]["code"] == "not_found"
        # It stops polling: after three intervals (1 s each) the sweeper marks it offline,
        # and the station's backlog goes to the location bridge.
        statuses = await w.wait_for("device.status", 2)
        assert statuses[-1] == {"device_id": device["id"], "online": False, "station_id": station}
        (offered,) = await b.wait_for("print_job.new")
        assert offered["id"] == job["id"]
        assert (await device_of(rest, tenant, device["id"]))["online"] is False
    finally:
        await b.close()
        await w.close()


async def test_unknown_and_unpaired_printers_are_refused(server: Server, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device, url = await add_printer(rest, tenant, location)
    printer = CloudPrntPrinter(rest.client, url)
    await printer.poll_until_settled()
    other = await rest.tenant("Other")
    theirs = await other.job(await other.location())
    assert await printer.poll() == {"jobReady": False}  # another tenant's job is never offered
    assert_error(await printer.fetch("image/png", theirs["id"]), 404, "not_found")
    job = await tenant.job(location)
    ready = await printer.poll()
    assert (await printer.fetch("image/png", ready["jobToken"])).status_code == 200
    assert (await job_of(rest, other, theirs["id"]))["status"] == "pending"

    base = url.rsplit("/", 1)[0]
    for wrong in ("prc_never-issued", "prd_" + "x" * 43, "anything"):
        stranger = CloudPrntPrinter(rest.client, f"{base}/{wrong}")
        assert_error(await stranger.post(), 401, "unauthorized")
    garbage = await rest.client.post(f"{base}/prc_never-issued", content=b"{not json")
    assert_error(garbage, 401, "unauthorized")  # who it is first, then what it sent
    no_code = await rest.client.delete(f"{base}/prc_never-issued?mac={printer.mac}")
    assert_error(no_code, 401, "unauthorized")
    bridge_device = await tenant.device(location)  # a bridge's token is not a printer's URL
    stranger = CloudPrntPrinter(rest.client, f"{base}/{bridge_device.token}")
    assert_error(await stranger.post(), 401, "unauthorized")

    r = await rest.client.delete(f"/v1/devices/{device['id']}", headers=tenant.manager)
    assert r.status_code == 204
    assert_error(await printer.post(), 401, "unauthorized")
    assert_error(await printer.confirm("200 OK", ready["jobToken"]), 401, "unauthorized")
    # The job it fetched may or may not have printed: unconfirmed, as for every bridge.
    assert (await job_of(rest, tenant, job["id"]))["status"] == "unconfirmed"


async def test_a_printer_without_job_tokens_is_served_too(server: Server, rest: World) -> None:
    """Firmware before job tokens GETs and DELETEs without ``token``: the job offered."""
    tenant = await rest.tenant()
    location = await tenant.location()
    _, url = await add_printer(rest, tenant, location)
    printer = CloudPrntPrinter(rest.client, url)
    await printer.poll_until_settled()
    job = await tenant.job(location)
    assert (await printer.poll())["jobReady"] is True
    fetched = await printer.fetch("image/png", None)
    assert fetched.status_code == 200
    assert (await job_of(rest, tenant, job["id"]))["status"] == "sent"
    assert (await printer.fetch("image/png", None)).content == fetched.content
    assert (await printer.confirm("OK", None)).status_code == 200
    assert (await job_of(rest, tenant, job["id"]))["status"] == "printed"
    assert_error(await printer.confirm("OK", None), 404, "not_found")


async def test_polls_are_rate_limited_per_printer(tmp_path: Path) -> None:
    """A separate server with a tight limit: past it, 429 with Retry-After; another printer
    is not affected."""
    from tests.cloudprnt.conftest import CLOUDPRNT_SERVER_ENV
    from tests.servers import ServerProcess

    process = ServerProcess(
        f"sqlite:///{tmp_path / 'rl.db'}",
        cwd=tmp_path,
        extra_env={**CLOUDPRNT_SERVER_ENV, "PRINTRELAY_CLOUDPRNT_RATE_LIMIT": "5"},
    )
    base = process.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
            _, url_a = await add_printer(world, tenant, location)
            _, url_b = await add_printer(world, tenant, location)
            a = CloudPrntPrinter(client, url_a)
            answers = [await a.post() for _ in range(6)]
            assert [r.status_code for r in answers[:5]] == [200] * 5
            limited = assert_error(answers[5], 429, "rate_limited")
            assert limited and int(answers[5].headers["retry-after"]) >= 1
            b = CloudPrntPrinter(client, url_b, mac="00:11:62:00:00:0b")
            assert (await b.post()).status_code == 200
    finally:
        process.stop()


async def test_a_fetched_job_never_confirmed_is_unconfirmed_at_the_lease(tmp_path: Path) -> None:
    """A separate server with a one-second lease: the printer fetches and goes silent about
    it; the sweeper makes the job ``unconfirmed`` and the printer is not offered it again."""
    from tests.cloudprnt.conftest import CLOUDPRNT_SERVER_ENV
    from tests.servers import ServerProcess

    process = ServerProcess(
        f"sqlite:///{tmp_path / 'lease.db'}",
        cwd=tmp_path,
        extra_env={**CLOUDPRNT_SERVER_ENV, "PRINTRELAY_JOB_LEASE_S": "1"},
    )
    base = process.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
            _, url = await add_printer(world, tenant, location)
            printer = CloudPrntPrinter(client, url)
            await printer.poll_until_settled()
            job = await tenant.job(location)
            token = (await printer.poll())["jobToken"]
            assert (await printer.fetch("image/png", token)).status_code == 200
            async with asyncio.timeout(30):  # a ceiling, not a measurement
                while (await job_of(world, tenant, job["id"]))["status"] == "sent":
                    await printer.poll()  # still polling, never confirming
            assert (await job_of(world, tenant, job["id"]))["status"] == "unconfirmed"
            assert await printer.poll() == {"jobReady": False}
            late = await printer.confirm("200 OK", token)
            assert_error(late, 404, "not_found")  # too late: a person decides (reprint)
            assert (await job_of(world, tenant, job["id"]))["status"] == "unconfirmed"
    finally:
        process.stop()
