"""Admission control: past PRINTRELAY_MAX_SUBMISSIONS_IN_FLIGHT submissions in progress, one
more is refused at once (503, Retry-After) and changes nothing; the rest are unaffected."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from app.config import Settings
from app.print_jobs import submission
from tests.world import DOCUMENT, World, assert_error

LIMIT = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_submissions_in_flight": LIMIT})


@pytest.mark.parametrize("through", ["fast path", "route"])
async def test_a_submission_past_the_bound_is_refused_and_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    body = {"location_id": location, "document": DOCUMENT}
    # The route serves what the fast path passes on: a +json type is one of those.
    content_type = "application/json" if through == "fast path" else "application/vnd.api+json"
    headers = {**tenant.pos, "Content-Type": content_type}
    release = asyncio.Event()
    submit = submission.hot_path.submit
    held = 0

    async def slow_submit(*args: Any) -> Any:
        nonlocal held
        held += 1
        await release.wait()
        return await submit(*args)

    monkeypatch.setattr(submission.hot_path, "submit", slow_submit)

    async def post() -> Any:
        return await world.client.post("/v1/print-jobs", content=json.dumps(body), headers=headers)

    first = [asyncio.create_task(post()) for _ in range(LIMIT)]
    for _ in range(200):
        if held == LIMIT:
            break
        await asyncio.sleep(0.01)
    assert held == LIMIT
    refused = await post()
    assert_error(refused, 503, "service_unavailable")
    assert refused.headers["Retry-After"] == "1"
    assert held == LIMIT  # refused before the statement
    release.set()
    assert [(await t).status_code for t in first] == [201] * LIMIT
    after = await post()  # the bound counts submissions in progress, not ever made
    assert after.status_code == 201, after.text
    r = await world.client.get(
        "/v1/print-jobs", params={"location_id": location}, headers=tenant.manager
    )
    assert len(r.json()["items"]) == LIMIT + 1
