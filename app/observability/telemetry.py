"""A log line and the metrics for each committed change of a job or a device.

Every status change is published as a domain event after its commit (``app.events``), from the
REST path, the hot path, the socket handlers and the sweeper alike; ``observed`` wraps that
event sink, so there is one place that counts and logs them and no path can skip it. The cost
per event is a counter increment and, at INFO, one log record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from app.events import DeviceUnpaired, JobChanged
from app.models import JobStatus
from app.observability import logs, metrics
from app.print_jobs.records import JobView

jobs_log = logging.getLogger("printrelay.jobs")
devices_log = logging.getLogger("printrelay.devices")

EventSink = Callable[[Sequence[Any]], Awaitable[None]]

# A status change and the word its log line uses.
_VERBS = {
    JobStatus.SENT: "claimed",
    JobStatus.PRINTED: "reported",
    JobStatus.FAILED: "reported",
    JobStatus.UNCONFIRMED: "swept",
    JobStatus.EXPIRED: "swept",
    JobStatus.CANCELED: "canceled",
}


def job_changed(job: JobView, created: bool) -> None:
    status = job.status
    if created:
        metrics.JOBS_SUBMITTED.inc()
        verb = "submitted"
    else:
        finished = metrics.finished_by_status.get(status)
        if finished is not None:
            finished.inc()
        if status is JobStatus.PRINTED:
            metrics.JOB_DELIVERY_SECONDS.observe(time.time() - job.created_at.timestamp())
        verb = _VERBS.get(status, "changed")
    if not jobs_log.isEnabledFor(logging.INFO):
        return
    # The ids go in fields (JSON keys, or key=value after a text line), not in the message.
    context = {  # in CONTEXT_FIELDS' order (logs.write_json_info)
        "event": f"job.{verb}",
        "tenant_id": job.tenant_id,
        "location_id": job.location_id,
        "station_id": job.station_id,
        "job_id": job.id,
        "device_id": job.claimed_by,
        "status": status.value,
        "epoch": job.epoch,
        "error": job.error,
    }
    handler = logs.json_line_handler(jobs_log)
    if handler is not None:  # the same line, without a LogRecord (logs.write_json_info)
        logs.write_json_info(handler, jobs_log.name, f"job {verb}: {status.value}", context)
    else:
        jobs_log.info("job %s: %s", verb, status.value, extra=context)


def device_event(
    verb: str,
    device_id: Any,
    tenant_id: Any,
    *,
    level: int = logging.INFO,
    sid: str | None = None,
    epoch: int | None = None,
) -> None:
    """A device ``connected``, ``owner``, ``superseded``, ``unpaired`` or ``disconnected``."""
    if not devices_log.isEnabledFor(level):
        return
    devices_log.log(
        level,
        "device %s",
        verb,
        extra={
            "event": f"device.{verb}",
            "device_id": device_id,
            "tenant_id": tenant_id,
            "sid": sid,
            "epoch": epoch,
        },
    )


def observed(sink: EventSink) -> EventSink:
    """``sink``, after counting and logging each event it is given."""

    async def observe_then_publish(events: Sequence[Any]) -> None:
        try:
            for event in events:
                if type(event) is JobChanged:
                    job_changed(event.job, event.created)
                elif type(event) is DeviceUnpaired:
                    device_event("unpaired", event.device_id, event.tenant_id)
        except Exception:  # a count or a line lost, never the emits that follow
            jobs_log.exception("observing %d events failed", len(events))
        await sink(events)

    return observe_then_publish
