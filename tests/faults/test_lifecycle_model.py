"""Scenario 9: a property-based state-machine test of the job lifecycle against the real
database, through the HTTP stack. Hypothesis drives submits, claims, reports, cancels, reprints
and epoch changes by two tenants' POS keys and devices; a model predicts every answer.

Invariants: at most one owner per job (claimed_by never changes once set), no status going
backwards, every answer the model predicts, and no tenant ever seeing another's job."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app.config import Environment, Settings
from app.main import create_app
from tests.world import ADMIN_TOKEN, Device, Tenant, World

pytestmark = [pytest.mark.faults]

RANK = {
    "pending": 0,
    "sent": 1,
    "printed": 2,
    "failed": 2,
    "canceled": 1,
    "expired": 1,
    "unconfirmed": 2,
}


@dataclass
class ModelJob:
    id: str
    tenant: int
    status: str = "pending"
    claimed_by: str | None = None
    history: list[str] = field(default_factory=lambda: ["pending"])


def make_machine(database_url: str) -> type[RuleBasedStateMachine]:
    class JobLifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.jobs: list[ModelJob] = []
            self.tenants: list[Tenant] = []
            self.devices: list[tuple[int, Device]] = []  # (tenant index, device)
            self.locations: list[str] = []
            self.run(self._setup())

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        async def _setup(self) -> None:
            cfg = Settings(
                env=Environment.PRODUCTION, database_url=database_url, admin_token=ADMIN_TOKEN
            )
            self.app = create_app(cfg, run_sweeper=False)
            self.lifespan = self.app.router.lifespan_context(self.app)
            await self.lifespan.__aenter__()
            self.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://t"
            )
            self.world = World(self.client, self.app)
            for t in range(2):
                tenant = await self.world.tenant(f"t{t}")
                location = await tenant.location()
                self.tenants.append(tenant)
                self.locations.append(location)
                for _ in range(2):
                    self.devices.append((t, await tenant.device(location)))

        def teardown(self) -> None:
            async def close() -> None:
                await self.client.aclose()
                await self.lifespan.__aexit__(None, None, None)

            self.run(close())
            self.loop.close()

        # -- rules ------------------------------------------------------------------------

        @rule(t=st.integers(0, 1))
        def submit(self, t: int) -> None:
            job = self.run(self.tenants[t].job(self.locations[t], headers=self.tenants[t].pos))
            self.jobs.append(ModelJob(job["id"], t))

        @precondition(lambda self: self.jobs)
        @rule(data=st.data(), d=st.integers(0, 3), stale=st.booleans())
        def claim(self, data: st.DataObject, d: int, stale: bool) -> None:
            job = data.draw(st.sampled_from(self.jobs))
            t, device = self.devices[d]
            epoch = device.epoch + 1 if stale else device.epoch
            r = self.run(self.world.claim(device, job.id, epoch=epoch))
            if job.tenant != t:
                assert r.status_code == 404
            elif stale:
                assert (r.status_code, r.json()["error"]["code"]) == (409, "stale_epoch")
            elif job.status == "pending":
                assert r.status_code == 200, r.text
                self._move(job, "sent")
                job.claimed_by = device.id
            elif job.claimed_by == device.id and job.status == "sent":
                assert r.status_code == 200
            elif job.claimed_by not in (None, device.id):
                assert (r.status_code, r.json()["error"]["code"]) == (409, "already_claimed")
            else:
                assert (r.status_code, r.json()["error"]["code"]) == (409, "invalid_transition")

        @precondition(lambda self: self.jobs)
        @rule(data=st.data(), d=st.integers(0, 3), outcome=st.sampled_from(["printed", "failed"]))
        def report(self, data: st.DataObject, d: int, outcome: str) -> None:
            job = data.draw(st.sampled_from(self.jobs))
            t, device = self.devices[d]
            r = self.run(
                self.world.report(
                    device, job.id, outcome, "paper_out" if outcome == "failed" else None
                )
            )
            if job.tenant != t:
                assert r.status_code == 404
            elif job.claimed_by == device.id and job.status == "sent":
                assert r.status_code == 200, r.text
                self._move(job, outcome)
            elif job.claimed_by == device.id and job.status == outcome:
                assert r.status_code == 200  # a repeated report is a no-op
            elif job.claimed_by not in (None, device.id):
                assert r.json()["error"]["code"] == "already_claimed"
            else:
                assert r.json()["error"]["code"] == "invalid_transition"

        @precondition(lambda self: self.jobs)
        @rule(data=st.data(), t=st.integers(0, 1))
        def cancel(self, data: st.DataObject, t: int) -> None:
            job = data.draw(st.sampled_from(self.jobs))
            r = self.run(
                self.client.post(f"/v1/print-jobs/{job.id}/cancel", headers=self.tenants[t].pos)
            )
            if job.tenant != t:
                assert r.status_code == 404
            elif job.status == "pending":
                assert r.status_code == 200
                self._move(job, "canceled")
            else:
                assert (r.status_code, r.json()["error"]["code"]) == (409, "invalid_transition")

        @precondition(lambda self: self.jobs)
        @rule(data=st.data(), t=st.integers(0, 1))
        def reprint(self, data: st.DataObject, t: int) -> None:
            job = data.draw(st.sampled_from(self.jobs))
            r = self.run(
                self.client.post(f"/v1/print-jobs/{job.id}/reprint", headers=self.tenants[t].pos)
            )
            if job.tenant != t:
                assert r.status_code == 404
            else:
                assert r.status_code == 201 and r.json()["reprint_of"] == job.id
                self.jobs.append(ModelJob(r.json()["id"], t))

        @rule(d=st.integers(0, 3))
        def new_epoch(self, d: int) -> None:
            _, device = self.devices[d]
            self.run(self.world.set_epoch(device, device.epoch + 1))

        def _move(self, job: ModelJob, to: str) -> None:
            assert RANK[to] > RANK[job.status], f"{job.status} -> {to} goes backwards"
            job.status = to
            job.history.append(to)

        # -- invariants -------------------------------------------------------------------

        @invariant()
        def database_agrees_with_the_model(self) -> None:
            for t, tenant in enumerate(self.tenants):
                r = self.run(
                    self.client.get(
                        "/v1/print-jobs",
                        params={"location_id": self.locations[t], "limit": 200},
                        headers=tenant.pos,
                    )
                )
                seen = {j["id"]: j for j in r.json()["items"]}
                mine = {j.id: j for j in self.jobs if j.tenant == t}
                assert set(seen) == set(mine)  # nothing of the other tenant, nothing missing
                for job_id, job in mine.items():
                    assert seen[job_id]["status"] == job.status
                    assert seen[job_id]["claimed_by"] == job.claimed_by

    return JobLifecycle


LIFECYCLE_SETTINGS = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_job_lifecycle_model(database_url: str) -> None:
    run_state_machine_as_test(make_machine(database_url), settings=LIFECYCLE_SETTINGS)
