"""Prometheus metrics, served at ``/metrics``.

One process: prometheus-client's default registry. Several (``printrelay serve --workers N``):
its multiprocess mode. The parent sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports
prometheus-client (``app.cli``), each worker writes its values to files there, and ``/metrics``
sums them whichever worker answers. The choice is made when prometheus-client is imported, so
this module reads the same variable.

The delivery path counts with a ``Counter.inc`` on a child made once (labelled children are
looked up in dicts built here at import, never a label dict per request). No label names a
tenant, a job or a device: label values come from closed sets (statuses, error codes, route
templates), so the series stay bounded whatever the traffic.
"""

from __future__ import annotations

import glob
import hmac
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.models import JobStatus

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Submit -> printed, in seconds: a ticket usually prints within a second; a queue behind an
# offline printer takes minutes (jobs expire after 15 by default).
DELIVERY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
UNMATCHED_ROUTE = "unmatched"  # a 404 for any path: one series, not one per path tried
FAST_SUBMIT_PATH = "/v1/print-jobs"

# No `_created` series beside each counter: half the lines, and dashboards do not use them.
disable_created_metrics()  # type: ignore[no-untyped-call]

JOBS_SUBMITTED = Counter(
    "printrelay_jobs_submitted", "Jobs created (submissions and reprints; not idempotent repeats)."
)
JOBS_FINISHED = Counter(
    "printrelay_jobs_finished",
    "Jobs that reached a final status (printed, failed, unconfirmed, expired, canceled).",
    ["status"],
)
JOB_DELIVERY_SECONDS = Histogram(
    "printrelay_job_delivery_seconds",
    "Seconds from a job's submission to its printed report.",
    buckets=DELIVERY_BUCKETS_S,
)
BRIDGES_CONNECTED = Gauge(
    "printrelay_bridges_connected",
    "Bridge sockets (device tokens) connected to the server.",
    multiprocess_mode="livesum",
)
OWNER_TAKEOVERS = Counter(
    "printrelay_owner_takeovers",
    "A bridge socket took a device's ownership from another live socket (superseding it).",
)
CLAIMS_REFUSED = Counter("printrelay_claims_refused", "Claims refused, by error code.", ["reason"])
HTTP_REQUESTS = Counter(
    "printrelay_http_requests",
    "HTTP requests answered, by route template and status code.",
    ["route", "status"],
)

FINAL_STATUSES = (
    JobStatus.PRINTED,
    JobStatus.FAILED,
    JobStatus.UNCONFIRMED,
    JobStatus.EXPIRED,
    JobStatus.CANCELED,
)
finished_by_status = {status: JOBS_FINISHED.labels(status.value) for status in FINAL_STATUSES}
# The refusals a claim meets (app.errors); another code gets its child on first use.
_refused_by_code = {
    code: CLAIMS_REFUSED.labels(code)
    for code in (
        "already_claimed",
        "stale_epoch",
        "invalid_transition",
        "not_found",
        "unauthorized",
        "forbidden",
    )
}
_requests_by_route: dict[tuple[str, int], Any] = {}


def claim_refused(code: str) -> None:
    child = _refused_by_code.get(code)
    if child is None:
        child = _refused_by_code[code] = CLAIMS_REFUSED.labels(code)
    child.inc()


def _request_counted(route: str, status: int) -> None:
    key = (route, status)
    child = _requests_by_route.get(key)
    if child is None:
        child = _requests_by_route[key] = HTTP_REQUESTS.labels(route, str(status))
    child.inc()


def _route_template(scope: Scope, path: str, status: int) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):  # an APIRoute (FastAPI puts it in the scope)
        return template
    # Served before routing (app.print_jobs.fast_submit): a path without parameters is its
    # own template.
    if path == FAST_SUBMIT_PATH:
        return FAST_SUBMIT_PATH
    if status == 404:
        return UNMATCHED_ROUTE
    # A mount (the pages, the SDK) or a plain Starlette route (/openapi.json): FastAPI's router
    # leaves no route in the scope for them, so look it up (never on the delivery path).
    probe = {"type": "http", "path": path, "root_path": "", "method": scope["method"]}
    for candidate in getattr(scope.get("app"), "routes", ()):
        match, _ = candidate.matches(probe)
        if match is Match.FULL:
            found = getattr(candidate, "path", None)
            if isinstance(found, str):
                return found or "/"
    return UNMATCHED_ROUTE


class HttpMetrics:
    """Counts every HTTP answer by route template and status (outermost middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # the app raised before it answered: the server answers 500
        path = scope["path"]  # as it came: a mount rewrites what the app below sees

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            _request_counted(_route_template(scope, path, status), status)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: no signal sent, only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def forget_dead_workers(directory: str) -> list[int]:
    """Mark each worker whose process is gone as dead, so its live gauges stop counting.

    A worker that ends cleanly does this itself (``process_exited``); one killed by the OOM
    killer or SIGKILL cannot, and its ``printrelay_bridges_connected`` would be summed until
    the server restarts. Live-gauge files are named ``gauge_live<mode>_<pid>.db``; counters and
    histograms of a dead worker are kept (they count what happened). Returns the pids marked."""
    dead: list[int] = []
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        stem = os.path.basename(path)[: -len(".db")]
        pid_text = stem.rpartition("_")[2]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid != os.getpid() and pid not in dead and not _pid_alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
            dead.append(pid)
    return dead


def exposition() -> tuple[bytes, str]:
    """The metrics as Prometheus text, summed over every worker in multiprocess mode."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def token_matches(expected: str, authorization: str | None) -> bool:
    """``Authorization: Bearer <expected>``, compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


def process_exited() -> None:
    """A worker's clean end: its live gauges (bridges connected) stop counting."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
