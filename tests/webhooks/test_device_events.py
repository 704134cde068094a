"""device.status fires when a printer's state changes (out of paper, back), not only when its
device goes on or off line: a CloudPRNT printer reports through its polls, a bridge through
``printer.status``; both store ``devices.printer_state``, where the trigger watches. Every
endpoint of the tenant gets the change under one event id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.devices import service as devices
from app.models import PrinterState, WebhookDelivery
from tests.cloudprnt.printer_sim import ASB_OK, ASB_PAPER_END, CloudPrntPrinter
from tests.webhook_receiver import Receiver, running_receiver
from tests.webhooks.support import ALL_DATABASES, sender_settings, until
from tests.world import Tenant, World

pytestmark = ALL_DATABASES


@pytest.fixture
def settings(database_url: str, hot_path: bool) -> Settings:
    return sender_settings(database_url, hot_path=hot_path)


async def subscribe(world: World, receiver: Receiver, tenant: Tenant, **extra: Any) -> None:
    r = await world.client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["device.status"], **extra},
        headers=tenant.manager,
    )
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]


async def add_printer(world: World, tenant: Tenant, location: str, station: str) -> Any:
    r = await world.client.post(
        "/v1/cloudprnt-printers",
        json={"location_id": location, "station_id": station, "name": "Star TSP143IV"},
        headers=tenant.manager,
    )
    assert r.status_code == 201, r.text
    return r.json()


def states(receiver: Receiver) -> list[tuple[bool, str]]:
    with receiver.lock:
        events = sorted(receiver.accepted, key=lambda e: e["created_at"])
    return [(e["data"]["online"], e["data"]["printer_state"]) for e in events]


async def test_a_printer_out_of_paper_and_back_is_told_to_every_endpoint(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    added = await add_printer(world, tenant, location, station)
    printer = CloudPrntPrinter(world.client, added["server_url"])
    with (
        running_receiver(failures=0) as everywhere,
        running_receiver(failures=0) as this_location,
    ):
        await subscribe(world, everywhere, tenant)
        await subscribe(world, this_location, tenant, location_id=location)
        await printer.poll_until_settled()  # online, printing
        await until(lambda: len(states(everywhere)) >= 1)
        printer.status_code, printer.asb = "410 Out of paper", ASB_PAPER_END
        await printer.poll()
        await printer.poll()  # the same state again: no event
        await until(lambda: len(states(everywhere)) >= 2)
        printer.status_code, printer.asb = "200 OK", ASB_OK
        await printer.poll()
        await until(lambda: len(states(everywhere)) >= 3 and len(states(this_location)) >= 3)
        await asyncio.sleep(0.2)  # room for a wrong extra event to show up
    for receiver in (everywhere, this_location):
        assert receiver.bad_signatures == 0
        assert states(receiver)[-2:] == [(True, "paper_out"), (True, "online")]
        assert (True, "online") in states(receiver)[:-2]  # the first poll
        assert (True, "paper_out") not in states(receiver)[:-2]  # the repeated poll wrote none
    paper_out = next(e for e in everywhere.accepted if e["data"]["printer_state"] == "paper_out")
    assert paper_out["type"] == "device.status"
    data = paper_out["data"]
    assert (data["device_id"], data["location_id"], data["station_id"]) == (
        added["device"]["id"],
        location,
        station,
    )
    # SQLite's clock in a trigger has millisecond resolution: the event's time may read up to
    # a millisecond before the state's (microseconds, from Python).
    assert datetime.fromisoformat(data["printer_state_at"]) <= datetime.fromisoformat(
        paper_out["created_at"]
    ) + timedelta(milliseconds=1)
    # One change, one event id, whichever endpoint it reaches.
    assert sorted(everywhere.accepted_ids()) == sorted(this_location.accepted_ids())


async def test_a_bridges_printer_state_and_its_online_flag_each_fire(world: World) -> None:
    """The path of a bridge's ``printer.status`` (the service its socket handler calls)."""
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    with running_receiver(failures=0) as receiver:
        await subscribe(world, receiver, tenant)
        await world.set_online(device, True)
        await until(lambda: len(states(receiver)) == 1)
        for state in (PrinterState.PAPER_OUT, PrinterState.PAPER_OUT, PrinterState.ONLINE):
            async with world.app.state.db.transaction() as tx:
                await devices.report_printer_state(
                    tx, uuid.UUID(tenant.id), uuid.UUID(device.id), "tcp://10.0.0.5:9100", state
                )
        await until(lambda: len(states(receiver)) == 3)
        await world.set_online(device, False)
        await until(lambda: len(states(receiver)) == 4)
        await asyncio.sleep(0.2)  # room for a wrong extra event to show up
    assert states(receiver) == [
        (True, "unknown"),
        (True, "paper_out"),
        (True, "online"),
        (False, "online"),
    ]
    assert receiver.accepted[0]["data"]["printer_state_at"] is None  # never reported yet


async def test_a_tenant_without_webhooks_gets_no_device_rows(world: World) -> None:
    subscribed, quiet = await world.tenant("A"), await world.tenant("B")
    location = await quiet.location()
    device = await quiet.device(location)
    with running_receiver(failures=0) as receiver:
        await subscribe(world, receiver, subscribed)
        await world.set_online(device, True)
        async with world.app.state.db.transaction() as tx:
            await devices.report_printer_state(
                tx, uuid.UUID(quiet.id), uuid.UUID(device.id), "p", PrinterState.PAPER_OUT
            )
        async with world.app.state.db.transaction() as tx:
            rows = await tx.session.scalar(
                select(func.count()).where(WebhookDelivery.tenant_id == uuid.UUID(quiet.id))
            )
    assert rows == 0
    assert receiver.accepted == []
