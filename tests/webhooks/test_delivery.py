"""Events reach a real receiver on loopback: signed, retried until a 2xx, once accepted each;
a rolled-back change writes no event."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.auth.service import authenticate
from app.config import Settings
from app.models import WebhookDelivery
from app.print_jobs import service as jobs
from tests.webhook_receiver import Receiver, running_receiver
from tests.webhooks.support import ALL_DATABASES, WAIT_S, sender_settings, until
from tests.world import World


@pytest.fixture
def settings(database_url: str, hot_path: bool) -> Settings:
    return sender_settings(database_url, hot_path=hot_path)


async def subscribe(world: World, receiver: Receiver, manager: dict[str, str]) -> str:
    r = await world.client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["print_job.updated", "device.status"]},
        headers=manager,
    )
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    hook: str = r.json()["id"]
    return hook


pytestmark = ALL_DATABASES


async def test_each_event_is_accepted_once_after_two_failures(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    with running_receiver(failures=2) as receiver:
        hook = await subscribe(world, receiver, tenant.manager)
        await world.set_online(device, True)
        await world.set_epoch(device, 1)
        job = await tenant.job(location)
        assert (await world.claim(device, job["id"])).status_code == 200
        assert (await world.report(device, job["id"], "printed")).status_code == 200
        await until(lambda: len(receiver.accepted) >= 4)
        await asyncio.sleep(0.2)  # room for a wrong extra delivery to show up
    assert receiver.bad_signatures == 0
    ids = receiver.accepted_ids()
    assert len(ids) == len(set(ids)) == 4
    assert all(count == 3 for count in receiver.tries.values())  # 500, 500, 200
    assert set(receiver.hosts) == {receiver.url.split("/")[2]}  # the name, not the address
    by_type = sorted((e["type"], e["data"].get("status")) for e in receiver.accepted)
    assert by_type == [
        ("device.status", None),
        ("print_job.updated", "pending"),
        ("print_job.updated", "printed"),
        ("print_job.updated", "sent"),
    ]
    for event in receiver.accepted:
        if event["type"] == "print_job.updated":
            assert event["data"]["job_id"] == job["id"]
            assert event["data"]["location_id"] == location
        else:
            assert event["data"] == {
                "device_id": device.id,
                "location_id": location,
                "station_id": None,
                "online": True,
                "printer_state": "unknown",
                "printer_state_at": None,
            }
        assert event["created_at"].endswith("Z")
    log = await world.client.get(f"/v1/webhooks/{hook}/deliveries", headers=tenant.manager)
    attempts = log.json()["items"]
    assert sorted(a["status_code"] for a in attempts) == [200] * 4 + [500] * 8
    assert {a["attempt"] for a in attempts if a["status_code"] == 200} == {3}
    # Another tenant sees none of it.
    other = await world.tenant("Other")
    r = await world.client.get(f"/v1/webhooks/{hook}/deliveries", headers=other.manager)
    assert r.status_code == 404


async def test_a_rolled_back_change_writes_no_event(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=0) as receiver:
        await subscribe(world, receiver, tenant.manager)
        job = await tenant.job(location)
        await until(lambda: len(receiver.accepted) == 1)  # its "pending"
        db = world.app.state.db
        principal = await authenticate(db, tenant.manager_secret, None)
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await jobs.cancel(tx, principal, uuid.UUID(job["id"]))
                raise RuntimeError("the request failed after the change")
        async with db.transaction() as tx:
            owed = await tx.session.scalar(
                select(func.count()).where(WebhookDelivery.subject_id == uuid.UUID(job["id"]))
            )
        assert owed == 1  # the submission's only
        r = await world.client.post(f"/v1/print-jobs/{job['id']}/cancel", headers=tenant.manager)
        assert r.status_code == 200, r.text
        await until(lambda: len(receiver.accepted) == 2)
    assert [e["data"]["status"] for e in receiver.accepted] == ["pending", "canceled"]


async def test_a_tenant_without_webhooks_gets_no_outbox_rows(world: World) -> None:
    subscribed, quiet = await world.tenant("A"), await world.tenant("B")
    with running_receiver(failures=0) as receiver:
        await subscribe(world, receiver, subscribed.manager)
        await quiet.job(await quiet.location())
        async with world.app.state.db.transaction() as tx:
            rows = await tx.session.scalar(
                select(func.count()).where(WebhookDelivery.tenant_id == uuid.UUID(quiet.id))
            )
    assert rows == 0
    assert receiver.accepted == []


async def test_a_deleted_webhook_gets_no_more_events(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=0) as receiver:
        hook = await subscribe(world, receiver, tenant.manager)
        await tenant.job(location)
        await until(lambda: len(receiver.accepted) == 1)
        r = await world.client.delete(f"/v1/webhooks/{hook}", headers=tenant.manager)
        assert r.status_code == 204
        await tenant.job(location)
        async with world.app.state.db.transaction() as tx:
            owed = await tx.session.scalar(
                select(func.count()).where(WebhookDelivery.tenant_id == uuid.UUID(tenant.id))
            )
    assert owed == 0  # the first's row went with the webhook; the second wrote none
    assert len(receiver.accepted) == 1


async def test_an_event_never_accepted_is_given_up_after_the_max_age(world: World) -> None:
    world.app.state.settings.webhook_max_age_s = 0.3  # the sender reads the app's settings
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=10**9) as receiver:
        hook = await subscribe(world, receiver, tenant.manager)
        job = await tenant.job(location)

        async def status() -> str | None:
            async with world.app.state.db.transaction() as tx:
                value: str | None = await tx.session.scalar(
                    select(WebhookDelivery.status).where(
                        WebhookDelivery.subject_id == uuid.UUID(job["id"])
                    )
                )
            return value

        async with asyncio.timeout(WAIT_S):
            while await status() != "failed":  # noqa: ASYNC110 (a database row)
                await asyncio.sleep(0.05)
        tries = sum(receiver.tries.values())
    assert receiver.accepted == [] and tries >= 2
    log = await world.client.get(f"/v1/webhooks/{hook}/deliveries", headers=tenant.manager)
    attempts = log.json()["items"]
    assert len(attempts) == tries and {a["status_code"] for a in attempts} == {500}
    assert sorted(a["attempt"] for a in attempts) == list(range(1, tries + 1))


async def test_submissions_written_together_each_get_their_event(world: World) -> None:
    """On PostgreSQL's hot path, concurrent submissions share one statement (the batcher)."""
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=0) as receiver:
        await subscribe(world, receiver, tenant.manager)
        jobs_ = await asyncio.gather(*(tenant.job(location) for _ in range(20)))
        await until(lambda: len(receiver.accepted) >= 20)
    assert sorted(e["data"]["job_id"] for e in receiver.accepted) == sorted(j["id"] for j in jobs_)
