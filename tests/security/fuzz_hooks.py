"""Hooks for the schemathesis CLI run of ``test_fuzz.py`` (``SCHEMATHESIS_HOOKS``): the shared
checks, the credential each request carries, and the pair → unpair → use-the-token invariant.

Requests to device routes carry the token of a device this run paired: for a job, one whose scope
holds the job (so submit → claim → report can happen), else the last one paired (the fixture
device's until then). Once a device is unpaired, any request with its token must get 401.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter
from typing import Any

import schemathesis
from schemathesis.checks import CheckContext

from tests.security.fuzzing import CHECKS, SECRETS_ENV, Credentials

CREDENTIALS = Credentials.from_json(os.environ[SECRETS_ENV])
TOKENS: dict[str, str] = {}  # device id → token, for devices paired in this run
REVOKED: set[str] = set()  # tokens of devices unpaired in this run
LATEST: dict[str, str] = {}  # "token": the device token device routes use now
SCOPES: dict[str, tuple[str, str | None]] = {}  # token → (location id, station id or None)
JOBS: dict[str, tuple[str, str | None]] = {}  # job id → (location id, station id or None)
REACHED: Counter[str] = Counter()

for check in CHECKS:
    schemathesis.check(check)


@schemathesis.check
def revoked_tokens_refused(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """pair → unpair → use the token: refused at once, on every route."""
    sent = response.request.headers.get("Authorization", "")
    if sent.removeprefix("Bearer ") in REVOKED:
        assert response.status_code == 401, f"{case.method} {case.path}: {response.text}"
        REACHED["revoked token refused"] += 1
    return None


@schemathesis.auth(refresh_interval=None, retry_on=[])
class RouteCredentials:
    """The credential each operation's route admits. Registered as schemathesis's auth, so its
    own auth checks (a missing or invalid credential must get 401) replace it when they probe."""

    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        token = LATEST.get("token")
        job = JOBS.get(str((case.path_parameters or {}).get("job_id")))
        if job is not None:
            token = next((t for t, scope in SCOPES.items() if _covers(scope, job)), token)
        return CREDENTIALS.headers(case.operation.method, case.operation.path, token)

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        if data:
            case.headers = {**(case.headers or {}), **data}


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """Devices paired over REST hold epoch 0 until a socket takes them over: send that epoch in
    half the claims and reports (by the generated epoch's parity), so some of them win."""
    operation = context.operation
    if (
        operation is not None
        and operation.method.upper() == "PATCH"
        and isinstance(body, dict)
        and isinstance(body.get("epoch"), int)
        and body["epoch"] % 2 == 0
    ):
        return {**body, "epoch": 0}
    return body


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    path = case.operation.path
    REACHED[f"{case.method} {path} {response.status_code}"] += 1
    if case.method == "POST" and path == "/v1/devices/pair" and response.status_code == 201:
        paired = response.json()
        TOKENS[paired["device"]["id"]] = paired["token"]
        LATEST["token"] = paired["token"]
        SCOPES[paired["token"]] = (paired["device"]["location_id"], paired["device"]["station_id"])
    elif (
        path.startswith("/v1/print-jobs")
        and response.status_code in (200, 201)
        # not a rendered job (render?format=png|escpos answers bytes)
        and "json" in response.headers.get("content-type", [""])[0]
    ):
        body = response.json()
        if isinstance(body, dict) and "location_id" in body and "id" in body:
            JOBS[body["id"]] = (body["location_id"], body["station_id"])
    elif case.method == "DELETE" and path == "/v1/devices/{device_id}":
        token = TOKENS.get(str(case.path_parameters["device_id"]))
        if token is not None and response.status_code == 204:
            REVOKED.add(token)
            SCOPES.pop(token, None)


def _covers(scope: tuple[str, str | None], job: tuple[str, str | None]) -> bool:
    """A location bridge takes every job of its location; a station bridge its station's."""
    return scope[0] == job[0] and scope[1] in (None, job[1])


@atexit.register
def _write_reached() -> None:
    path = os.environ.get("FUZZ_REACHED_PATH")
    if path:
        with open(path, "w") as fh:
            json.dump(dict(sorted(REACHED.items())), fh)
