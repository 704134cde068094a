"""app.print_jobs.fast_submit: valid submissions are served before the router, everything
else reaches the FastAPI route and gets its answer; a request is never counted twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.config import Settings
from app.print_jobs import endpoints, fast_submit
from tests.world import DOCUMENT, Tenant, World, assert_error, bearer

SUBMIT_LIMIT = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_submit_rate_limit": SUBMIT_LIMIT})


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Idempotency-Keys of the submissions the FastAPI route's endpoint handled."""
    calls: list[str | None] = []
    check = endpoints.check_idempotency_key

    def counting(key: str | None) -> str | None:
        calls.append(key)
        return check(key)

    monkeypatch.setattr(endpoints, "check_idempotency_key", counting)
    return calls


@pytest.fixture
async def tenant(world: World) -> AsyncIterator[Tenant]:
    yield await world.tenant()


async def _post(
    world: World, headers: dict[str, str], body: Any, *, raw: bytes | None = None, query: str = ""
) -> Any:
    """As a POS sends it: JSON with its content type, unless ``headers`` say otherwise."""
    content = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **headers}
    return await world.client.post(f"/v1/print-jobs{query}", content=content, headers=headers)


async def _job_count(world: World, tenant: Tenant, location: str) -> int:
    r = await world.client.get(
        "/v1/print-jobs", params={"location_id": location, "limit": 200}, headers=tenant.manager
    )
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


async def test_valid_submissions_skip_the_route(
    world: World, tenant: Tenant, route_calls: list[str | None]
) -> None:
    location = await tenant.location()
    body = {"location_id": location, "document": DOCUMENT}
    json_type = {"Content-Type": "application/json; charset=utf-8"}
    first = await _post(world, {**tenant.pos, **json_type, "Idempotency-Key": "order-1"}, body)
    assert first.status_code == 201, first.text
    again = await _post(world, {**tenant.pos, **json_type, "Idempotency-Key": "order-1"}, body)
    assert again.status_code == 200 and again.json() == first.json()
    by_manager = await _post(world, {**tenant.manager, "Content-Type": "application/json"}, body)
    assert by_manager.status_code == 201, by_manager.text
    assert first.json()["status"] == "pending" and first.json()["location_id"] == location
    assert route_calls == []
    assert await _job_count(world, tenant, location) == 2


async def test_everything_else_gets_the_routes_answer_and_creates_nothing(
    world: World, tenant: Tenant, route_calls: list[str | None]
) -> None:
    location = await tenant.location()
    device = await tenant.device(location)
    body = {"location_id": location, "document": DOCUMENT}
    text = {"Content-Type": "text/plain"}
    untyped = await world.client.post(
        "/v1/print-jobs", content=json.dumps(body), headers=tenant.pos
    )
    cases = [
        (untyped, 422, "validation_error"),  # FastAPI's strict content type
        (await _post(world, {}, body), 401, "unauthorized"),
        (await _post(world, bearer("prk_not-a-key"), body), 401, "unauthorized"),
        (await _post(world, bearer(device.token), body), 403, "forbidden"),
        (await _post(world, {**tenant.pos, **text}, body), 422, "validation_error"),
        (await _post(world, tenant.pos, None, raw=b'{"location_id": '), 422, "validation_error"),
        (await _post(world, tenant.pos, None, raw=b"\xff\xfe"), 422, "validation_error"),
        (await _post(world, tenant.pos, {"location_id": location}), 422, "validation_error"),
        (await _post(world, tenant.pos, body, query="?dry_run=1"), 422, "validation_error"),
        (
            await _post(world, {**tenant.pos, "Idempotency-Key": "two words"}, body),
            422,
            "validation_error",
        ),
    ]
    for response, status, code in cases:
        assert_error(response, status, code)
    assert "dry_run" in cases[8][0].json()["error"]["message"]
    assert "Idempotency-Key" in cases[9][0].json()["error"]["message"]
    assert route_calls == ["two words"]  # the only one whose body and credential were valid
    assert await _job_count(world, tenant, location) == 0


async def test_errors_after_acceptance_are_answered_once_by_the_apps_handlers(
    world: World, tenant: Tenant, route_calls: list[str | None]
) -> None:
    location = await tenant.location()
    body = {"location_id": location, "document": DOCUMENT}
    statuses = [(await _post(world, tenant.pos, body)).status_code for _ in range(SUBMIT_LIMIT - 1)]
    for _ in range(3):  # refused before acceptance: not counted against the key
        assert_error(
            await _post(world, tenant.pos, {"location_id": location}), 422, "validation_error"
        )
    statuses.append((await _post(world, tenant.pos, body)).status_code)
    assert statuses == [201] * SUBMIT_LIMIT
    limited = await _post(world, tenant.pos, body)
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    elsewhere = await world.tenant()
    foreign = await _post(world, elsewhere.pos, body)  # valid JSON, another tenant's location
    assert_error(foreign, 404, "not_found")
    assert route_calls == []
    assert await _job_count(world, tenant, location) == SUBMIT_LIMIT


async def test_a_body_sent_in_chunks_is_read_whole(world: World, tenant: Tenant) -> None:
    location = await tenant.location()
    payload = json.dumps({"location_id": location, "document": DOCUMENT}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    headers = {**tenant.pos, "Content-Type": "application/json"}
    r = await world.client.post("/v1/print-jobs", content=chunks(), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["document"]["blocks"][1] == DOCUMENT["blocks"][1]


async def test_the_database_away_while_authenticating_is_a_503_not_an_exception(
    world: World, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key not yet in the cache is looked up; with the database down that is the app's
    503 (before, the error escaped the app, and the server closed the client's connection)."""
    location = await tenant.location()

    async def database_down(*_: Any) -> Any:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(fast_submit, "authenticate_secret", database_down)
    r = await _post(world, tenant.pos, {"location_id": location, "document": DOCUMENT})
    assert_error(r, 503, "service_unavailable")
    assert r.headers["Retry-After"] == "1"


async def test_an_unknown_secret_costs_one_lookup(
    world: World, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.auth import service as auth_service

    location = await tenant.location()
    lookups = 0
    look_up = auth_service._look_up

    async def counting(*args: Any) -> Any:
        nonlocal lookups
        lookups += 1
        return await look_up(*args)

    monkeypatch.setattr(auth_service, "_look_up", counting)
    body = {"location_id": location, "document": DOCUMENT}
    assert_error(await _post(world, bearer("prk_guess"), body), 401, "unauthorized")
    assert lookups == 1
