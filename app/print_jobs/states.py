"""The job state machine: the only place that says which status changes are allowed.

pending -> sent -> printed | failed
sent    -> unconfirmed   (lease passed without a report, or the claimer was unpaired)
pending -> expired       (past expires_at)
pending -> canceled
"""

from __future__ import annotations

from app.models.enums import JobStatus

ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.SENT, JobStatus.EXPIRED, JobStatus.CANCELED}),
    JobStatus.SENT: frozenset({JobStatus.PRINTED, JobStatus.FAILED, JobStatus.UNCONFIRMED}),
    JobStatus.PRINTED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.UNCONFIRMED: frozenset(),
    JobStatus.EXPIRED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}

TERMINAL_STATUSES = frozenset(s for s, nxt in ALLOWED_TRANSITIONS.items() if not nxt)
# Statuses a device may report on a job it claimed.
DEVICE_REPORT_STATUSES = frozenset({JobStatus.PRINTED, JobStatus.FAILED})


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """Every status from which ``target`` may be reached (used in conditional UPDATEs)."""
    return frozenset(s for s, nxt in ALLOWED_TRANSITIONS.items() if target in nxt)
