"""What the fuzz tests share: the credential each operation gets (read from the route table) and
the checks every fuzzed answer must pass, used by the in-process test (``test_fuzz.py``) and by
the schemathesis CLI run (``fuzz_hooks.py``). schemathesis's positive- and negative-data checks
are replaced by stricter versions that know the contract's refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from schemathesis.checks import CheckContext
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    unsupported_method,
)

from app.auth.principals import PrincipalKind
from app.config import Settings
from app.main import create_app
from tests.security.routes import allowed_kinds, api_routes
from tests.world import ADMIN_TOKEN, bearer

# Which credential a route gets when it admits several: the broadest one first.
PREFERENCE = [PrincipalKind.MANAGER, PrincipalKind.POS, PrincipalKind.DEVICE, PrincipalKind.ADMIN]
# The app as the server builds it, for its route table and its schema (no database is opened).
APP = create_app(
    Settings(admin_token=ADMIN_TOKEN, database_url="sqlite+aiosqlite:///:memory:"),
    run_sweeper=False,
)
ROLES = {
    (method, route.path): allowed_kinds(route)
    for route in api_routes(APP)
    for method in route.methods
}
SECRETS_ENV = "PRINTRELAY_FUZZ_SECRETS"  # how the CLI run's hooks get the credentials


@dataclass
class Credentials:
    """A fuzzed tenant's secrets, one per principal kind (and the admin token)."""

    base_url: str
    secrets: dict[PrincipalKind, str]

    def kind_for(self, method: str, path: str) -> PrincipalKind | None:
        kinds = ROLES[(method.upper(), path)]
        if kinds is None:
            return None
        return next(kind for kind in PREFERENCE if kind in kinds)

    def headers(self, method: str, path: str, device_token: str | None = None) -> dict[str, str]:
        kind = self.kind_for(method, path)
        if kind is None:
            return {}
        if kind is PrincipalKind.DEVICE and device_token is not None:
            return bearer(device_token)
        return bearer(self.secrets[kind])

    def to_json(self) -> str:
        return json.dumps({"base_url": self.base_url, "secrets": dict(self.secrets)})

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        data = json.loads(text)
        secrets = {PrincipalKind(k): v for k, v in data["secrets"].items()}
        return cls(base_url=data["base_url"], secrets=secrets)


def error_shape(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """Every non-2xx answer is ``{"error": {"code", "message"}}`` (also for undeclared codes)."""
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
        assert isinstance(body["error"]["message"], str), body
    return None


# Refusals the contract defines for input that is well formed but means nothing to the server:
# JSON Schema cannot tell a live pairing code, a cursor this API handed out or a fresh
# Idempotency-Key from any other string. (operation, status) → the error codes allowed.
SEMANTIC_REFUSALS: dict[tuple[str, str], dict[int, set[str]]] = {
    ("POST", "/v1/devices/pair"): {400: {"invalid_pairing_code"}},
    # and the document rules a pattern cannot state, see PATTERNLESS_RULES
    ("POST", "/v1/print-jobs"): {422: {"idempotency_conflict", "validation_error"}},
    ("GET", "/v1/print-jobs"): {422: {"validation_error"}},  # only with a cursor, see below
    # The document rules (PATTERNLESS_RULES), and a PNG whose header is true and whose pixel
    # data the renderer cannot decode.
    ("POST", "/v1/render"): {422: {"validation_error", "not_renderable"}},
    # A raw job as text, or a stored document whose image the renderer cannot decode.
    ("GET", "/v1/print-jobs/{job_id}/render"): {422: {"not_renderable"}},
    # A webhook URL whose host does not resolve, or resolves to a private address.
    ("POST", "/v1/webhooks"): {422: {"validation_error"}},
}


# What a submission's 422 may name when its body matched the schema: a PNG header's CRC and
# the pixels it declares, an EAN13's check digit (app/print_jobs/document.py).
PATTERNLESS_RULES = ("PNG", "pixels", "check digit")


INTEGER_ERROR = ": Input should be a valid integer"


def _only_integers_spelt_as_floats(case: Any, response: Any) -> bool:
    """Whether a 422 refuses only integers the request wrote as floats (``2.0``). JSON Schema's
    ``integer`` admits them, the contract's request bodies do not (integers are strict)."""
    error = response.json()["error"]
    if error["code"] != "validation_error":
        return False
    for part in error["message"].split("; "):
        if not part.endswith(INTEGER_ERROR):
            return False
        value = case.body
        for step in part.removesuffix(INTEGER_ERROR).split("."):
            if isinstance(value, list) and step.isdigit():
                value = value[int(step)]
            elif isinstance(value, dict) and step in value:
                value = value[step]
            elif not (isinstance(value, dict) and value.get("type") == step):  # a block's tag
                return False
        if not (type(value) is float and value.is_integer()):
            return False
    return True


def _null_from_a_link(case: Any) -> bool:
    """Whether a link carried a JSON null into a path parameter: schemathesis infers links from
    field names (a device's or job's ``station_id`` into ``/v1/stations/{station_id}``), and a
    location bridge's or location job's ``station_id`` is null, which it sends as ``None``: not
    a UUID, so rightly 422, though the case counts as positive data."""
    return any(value is None for value in (case.path_parameters or {}).values())


def valid_data_accepted(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """schemathesis's positive-data check, but a refusal the contract defines is an answer."""
    op = (case.operation.method.upper(), case.operation.path)
    refusals = SEMANTIC_REFUSALS.get(op, {})
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and response.status_code == 422 and _null_from_a_link(case):
        return None
    if positive and response.status_code == 422 and _only_integers_spelt_as_floats(case, response):
        return None
    if positive and response.status_code in refusals:
        error = response.json()["error"]
        assert error["code"] in refusals[response.status_code], response.text
        if op == ("GET", "/v1/print-jobs"):
            assert case.query.get("cursor") and error["message"].startswith("cursor:"), error
        documents = {("POST", "/v1/print-jobs"), ("POST", "/v1/render")}
        if op in documents and error["code"] == "validation_error":
            assert any(rule in error["message"] for rule in PATTERNLESS_RULES), error
        if op == ("POST", "/v1/webhooks"):
            assert error["message"].startswith("url "), error
        return None
    return positive_data_acceptance(ctx, response, case)


def invalid_data_rejected(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """schemathesis's negative-data check, for the request as it went out: the HTTP client
    drops query parameters whose value is None or empty, so the server never sees them."""
    if case.query and any(v is None or v == [] or v == {} for v in case.query.values()):
        return None
    return negative_data_rejection(ctx, response, case)


def no_server_error(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    return None


CHECKS = [error_shape, valid_data_accepted, invalid_data_rejected, no_server_error]


def excluded_checks(case: Any) -> list[Any]:
    # The two built-ins are replaced by the stricter versions above.
    excluded = [positive_data_acceptance, negative_data_rejection]
    if case.operation.path in ("/v1/devices/me", "/v1/devices/pair"):
        # These static paths share their prefix with DELETE /v1/devices/{device_id}, so another
        # method on them is that route with a malformed ID (422), not an unknown method (405).
        excluded.append(unsupported_method)
    return excluded
