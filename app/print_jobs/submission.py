"""What accepting a submission takes once its request is understood: the Idempotency-Key's
form, the per-key rate limit, the write, the answer. Shared by the FastAPI route and
``fast_submit``, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette import status

from app.auth.principals import Principal
from app.coordination.rate_limit import retry_after_seconds
from app.errors import Overloaded, RateLimited, ValidationFailed
from app.json_codec import FastJSONResponse
from app.print_jobs import hot_path
from app.print_jobs.schemas import JobCreate, job_wire

MAX_IDEMPOTENCY_KEY_CHARS = 255


class Admission:
    """Bounds the submissions this process works on at once.

    Past the bound a submission is refused before it costs anything (no rate-limit count, no
    statement): 503 ``service_unavailable`` with ``Retry-After: 1``. Without it, a server
    offered more than it can store (the embedded default at three times its capacity) queues
    every request, and the bridges' claims and reports wait behind the queue until their acks
    time out and their retries add to it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self.in_flight >= self.limit:
            raise Overloaded(1, "The server is busy with other submissions; retry in a second.")
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not all(32 < ord(c) < 127 for c in key):
        raise ValidationFailed(
            f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
        )
    return key


async def accept_submission(
    state: Any, principal: Principal, body: JobCreate, idempotency_key: str | None
) -> FastJSONResponse:
    """``state`` is the app's (admission, limiters, db). 201 with the new job, or 200 with the
    first job of a repeated Idempotency-Key."""
    with state.admission.admit():
        wait_s = await state.limiters["submit_key"].hit(str(principal.key_id))
        if wait_s is not None:
            raise RateLimited(
                retry_after_seconds(wait_s), "Too many jobs from this API key; slow down."
            )
        job, created = await hot_path.submit(state.db, principal, body, idempotency_key)
    # The job's JSON was made once for its socket events (job_wire); answering with it skips
    # validating and serialising a JobOut again on the busiest route.
    return FastJSONResponse(
        job_wire(job), status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )
