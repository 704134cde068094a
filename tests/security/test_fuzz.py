"""Fuzzing the REST API from its own OpenAPI schema with schemathesis, against a real server
process: valid and invalid (negative) data for every operation, then stateful runs that follow
the schema's links (location → pairing code → pair → submit → claim → report, pair → unpair →
use the token).

Every answer must be what the schema says it can be (status, content type, body shape), invalid
input must be refused with a 4xx in the error shape, no request may get a 5xx, and a device's
token must stop working the moment the device is unpaired. The checks are in ``fuzzing.py``.

The stateful run goes through schemathesis's own engine (its CLI): it copes with generation that
depends on what the server answered, which Hypothesis alone reports as a flaky strategy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.auth.principals import PrincipalKind
from tests.security.fuzzing import (
    APP,
    CHECKS,
    SECRETS_ENV,
    Credentials,
    excluded_checks,
)
from tests.servers import running_server
from tests.world import ADMIN_TOKEN, bearer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Generous limits so the fuzzer reaches the logic behind them; the limits have their own tests.
FUZZ_ENV = {
    "PRINTRELAY_PAIRING_RATE_LIMIT": "100000",
    "PRINTRELAY_PAIRING_GLOBAL_RATE_LIMIT": "100000",
    "PRINTRELAY_JOB_SUBMIT_RATE_LIMIT": "100000",
    "PRINTRELAY_RENDER_RATE_LIMIT": "100000",
}
# Loaded eagerly from the app the server runs (schemathesis's lazy fixture loader does not run
# under pytest 9); the first test proves the server serves this very schema.
schema = schemathesis.openapi.from_dict(APP.openapi())


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{cwd / 'fuzz.db'}"
    with running_server(url, cwd=Path(cwd), extra_env=FUZZ_ENV) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def credentials(fuzz_server: str) -> Credentials:
    with httpx.Client(base_url=fuzz_server, timeout=10) as c:
        tenant = c.post("/v1/tenants", json={"name": "Fuzz"}, headers=bearer(ADMIN_TOKEN))
        manager = bearer(tenant.json()["api_key"]["secret"])
        pos = c.post("/v1/api-keys", json={"name": "till", "role": "pos"}, headers=manager)
        location = c.post("/v1/locations", json={"name": "Centro"}, headers=manager).json()["id"]
        code = c.post(
            "/v1/pairing-codes",
            json={"location_id": location, "kind": "print_bridge"},
            headers=manager,
        ).json()["code"]
        device = c.post("/v1/devices/pair", json={"code": code, "name": "kitchen"}).json()
    return Credentials(
        base_url=fuzz_server,
        secrets={
            PrincipalKind.ADMIN: ADMIN_TOKEN,
            PrincipalKind.MANAGER: tenant.json()["api_key"]["secret"],
            PrincipalKind.POS: pos.json()["secret"],
            PrincipalKind.DEVICE: device["token"],
        },
    )


def test_the_server_serves_the_schema_the_fuzzer_reads(fuzz_server: str) -> None:
    served = httpx.get(f"{fuzz_server}/openapi.json").json()
    assert served == APP.openapi()
    assert served["paths"]["/v1/print-jobs"]["post"]["responses"]["201"]["links"]


@schema.parametrize()
# No example database: a saved example would replay against a server whose state has moved on.
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_answers_as_its_schema_says(case: Any, credentials: Credentials) -> None:
    case.call_and_validate(
        base_url=credentials.base_url,
        headers=credentials.headers(case.operation.method, case.operation.path),
        additional_checks=CHECKS,
        excluded_checks=excluded_checks(case),
    )


def test_stateful_workflows_follow_the_links_without_errors(
    credentials: Credentials, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{credentials.base_url}/openapi.json",
            "--phases",
            "stateful",
            "--checks",
            "all",
            "--exclude-checks",
            # Replaced by stricter checks in fuzzing.py; and a job one principal created is
            # rightly 404 to a device outside its scope, which the availability check cannot know.
            "positive_data_acceptance,negative_data_rejection,ensure_resource_availability",
            "--max-examples",
            "100",
            "--max-time",
            "40",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
            "--workers",
            "1",
            # Seeded: which links a run follows is random, and an unseeded run missed pairing
            # one time in three after the schema grew (issue 23); STATEFUL_SEED explores anew.
            "--seed",
            os.environ.get("STATEFUL_SEED", "20261205"),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.security.fuzz_hooks",
            SECRETS_ENV: credentials.to_json(),
            "FUZZ_REACHED_PATH": str(tmp_path / "reached.json"),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    reached = json.loads((tmp_path / "reached.json").read_text())
    print("\nstateful fuzzing reached:", reached)
    # The run went deep: it paired devices through the links, and used them.
    assert reached.get("POST /v1/devices/pair 201", 0) > 0, reached
