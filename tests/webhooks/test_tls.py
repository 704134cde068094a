"""https webhooks to a real TLS receiver on loopback: the sender connects to the address it
checked, and still sends the URL's name in SNI and verifies the certificate against that name
(a certificate for another name, or from a CA it does not trust, is refused and retried)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from app.config import Settings
from app.webhooks import ssrf
from tests.tls import TestCA
from tests.webhook_receiver import Receiver, running_receiver
from tests.webhooks.support import attempts_of, sender_settings, until
from tests.world import World

NAME, OTHER_NAME = "hooks.test", "other.test"  # .test: never a real name (RFC 2606)


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


@pytest.fixture(autouse=True)
def test_names_resolve_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver the sender (and the creation check) uses answers 127.0.0.1 for the test
    names, as a DNS record pointing at the receiver would."""
    real = ssrf.resolve

    async def resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        if host in (NAME, OTHER_NAME):
            return [ipaddress.ip_address("127.0.0.1")]
        return await real(host, port)

    monkeypatch.setattr(ssrf, "resolve", resolve)


@pytest.fixture
def trust_test_ca(request: pytest.FixtureRequest) -> bool:
    return getattr(request, "param", True)


@pytest.fixture
def settings(sqlite_url: str, ca: TestCA, trust_test_ca: bool) -> Settings:
    return sender_settings(sqlite_url, webhook_ca_file=ca.ca_file if trust_test_ca else None)


async def subscribe(
    world: World, receiver: Receiver, manager: dict[str, str], url: str, events: list[str]
) -> str:
    r = await world.client.post(
        "/v1/webhooks", json={"url": url, "events": events}, headers=manager
    )
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    hook: str = r.json()["id"]
    return hook


async def test_an_https_delivery_goes_to_the_checked_address_under_its_name(
    world: World, ca: TestCA
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=1, tls=ca.issue(NAME), name=NAME) as receiver:
        hook = await subscribe(world, receiver, tenant.manager, receiver.url, ["print_job.updated"])
        job = await tenant.job(location)
        await until(lambda: len(receiver.accepted) == 1)
    assert receiver.bad_signatures == 0
    assert receiver.accepted[0]["data"]["job_id"] == job["id"]
    port = receiver.url.split(":")[2].split("/")[0]
    assert set(receiver.hosts) == {f"{NAME}:{port}"}
    assert receiver.server_names and set(receiver.server_names) == {NAME}  # SNI: the name
    attempts = await attempts_of(world, hook, tenant.manager, at_least=2)
    assert sorted(a["status_code"] for a in attempts) == [200, 500]


async def test_a_certificate_for_another_name_is_refused_and_retried(
    world: World, ca: TestCA
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=0, tls=ca.issue(NAME), name=OTHER_NAME) as receiver:
        hook = await subscribe(world, receiver, tenant.manager, receiver.url, ["print_job.updated"])
        await tenant.job(location)
        attempts = await attempts_of(world, hook, tenant.manager, at_least=2)
    assert receiver.tries == {} and receiver.accepted == []  # no request got through
    assert set(receiver.server_names) == {OTHER_NAME}
    assert {a["status_code"] for a in attempts} == {None}
    (reason,) = {a["error"] for a in attempts}
    assert reason.startswith("TLS certificate refused: Hostname mismatch"), reason
    assert OTHER_NAME in reason


@pytest.mark.parametrize("trust_test_ca", [False], indirect=True)
async def test_a_private_ca_is_trusted_only_when_configured(world: World, ca: TestCA) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    with running_receiver(failures=0, tls=ca.issue(NAME), name=NAME) as receiver:
        hook = await subscribe(world, receiver, tenant.manager, receiver.url, ["print_job.updated"])
        await tenant.job(location)
        attempts = await attempts_of(world, hook, tenant.manager, at_least=1)
    assert receiver.accepted == []
    assert attempts[0]["error"].startswith("TLS certificate refused: unable to get local issuer")


async def test_a_connection_verified_for_one_name_never_carries_another_names_event(
    world: World, ca: TestCA
) -> None:
    """Two names on one address: the connection opened (and kept alive) for the name the
    certificate holds must not take the event of a name it was never verified for."""
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    with running_receiver(failures=0, tls=ca.issue(NAME), name=NAME) as receiver:
        other_url = receiver.url.replace(NAME, OTHER_NAME)
        other = await subscribe(world, receiver, tenant.manager, other_url, ["device.status"])
        # Last, so the receiver verifies with its secret.
        await subscribe(world, receiver, tenant.manager, receiver.url, ["print_job.updated"])
        await tenant.job(location)
        await until(lambda: len(receiver.accepted) == 1)  # an idle connection for NAME now
        await world.set_online(device, True)  # an event for OTHER_NAME only
        attempts = await attempts_of(world, other, tenant.manager, at_least=1)
    assert [e["type"] for e in receiver.accepted] == ["print_job.updated"]
    assert attempts[0]["error"].startswith("TLS certificate refused: Hostname mismatch")
