"""The bridge's socket payloads hold the REST bodies' rules (tests/app/test_input_boundary.py):
a NUL in any string, or a loosely typed integer, gets an error ack ``validation_error`` and
leaves the job as it was, against a real server over a real websocket (SQLite in memory mode,
PostgreSQL + Redis in redis mode). Before the fix a NUL in a failure report's ``error`` got no
ack at all on PostgreSQL and the job stayed ``sent`` until its lease ran out."""

from __future__ import annotations

from typing import Any

from app.realtime.messages import ClaimMessage, PrinterStatusMessage, ReportMessage
from app.schemas_common import Input
from tests.realtime.clients import SocketClient, bridge
from tests.security.schema_walk import leaves, loose_values, set_at, with_nul
from tests.world import Tenant, World

ACK_S = 5.0


async def _refused(
    client: SocketClient, event: str, model: type[Input], sample: dict[str, Any], strings: bool
) -> list[str]:
    """Sends ``sample`` once per string (with a NUL) or per loose form of each integer it
    holds; each must get an error ack naming the field. Returns the fields tried."""
    fields = []
    for path, field, value in leaves(model.model_validate(sample)):
        if isinstance(value, str) != strings:
            continue
        for wrong in [with_nul(value)] if strings else loose_values(value):
            ack = await client.call(event, set_at(sample, path, wrong), timeout_s=ACK_S)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (field, ack)
            assert str(path[-1]) in ack["error"]["message"], (field, ack)
            fields.append(field)
    return fields


async def _job_as_it_was(rest: World, tenant: Tenant, job_id: str, status: str) -> None:
    r = await rest.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.pos)
    assert r.json()["status"] == status and r.json()["error"] is None
    events = await rest.client.get(f"/v1/print-jobs/{job_id}/events", headers=tenant.pos)
    expected = ["pending", "sent"][: 1 + (status == "sent")]
    assert [e["to_status"] for e in events.json()["items"]] == expected


async def test_a_nul_in_a_report_or_a_status_gets_an_error_ack_and_changes_nothing(
    server: str, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    client = await bridge(server, device.token).connect()
    try:
        epoch = (await client.wait_for("bridge.owner"))[0]["epoch"]
        job = await tenant.job(location)
        assert (await client.call("print_job.claim", {"id": job["id"], "epoch": epoch}))["ok"]
        report = {"id": job["id"], "epoch": epoch, "status": "failed", "error": "paper out"}
        refused = await _refused(client, "print_job.report", ReportMessage, report, True)
        assert "ReportMessage.error" in refused
        await _job_as_it_was(rest, tenant, job["id"], "sent")
        status = {"printer": "tcp://10.0.0.9:9100", "state": "paper_out"}
        refused = await _refused(client, "printer.status", PrinterStatusMessage, status, True)
        assert refused == ["PrinterStatusMessage.printer"]
        # The valid report is still taken: the refusals above were the values'.
        done = await client.call("print_job.report", report)
        assert done["ok"] and done["job"]["status"] == "failed"
        assert done["job"]["error"] == "paper out"
    finally:
        await client.close()


async def test_loose_integers_in_a_claim_or_report_get_an_error_ack_and_change_nothing(
    server: str, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    client = await bridge(server, device.token).connect()
    try:
        epoch = (await client.wait_for("bridge.owner"))[0]["epoch"]
        job = await tenant.job(location)
        claim = {"id": job["id"], "epoch": epoch}
        refused = await _refused(client, "print_job.claim", ClaimMessage, claim, False)
        assert set(refused) == {"ClaimMessage.epoch"}
        await _job_as_it_was(rest, tenant, job["id"], "pending")
        assert (await client.call("print_job.claim", claim))["ok"]
        report = {"id": job["id"], "epoch": epoch, "status": "printed"}
        refused = await _refused(client, "print_job.report", ReportMessage, report, False)
        assert set(refused) == {"ReportMessage.epoch"}
        await _job_as_it_was(rest, tenant, job["id"], "sent")
    finally:
        await client.close()
