"""OpenAPI links: which response feeds which next request (a created location's ID into its
stations, a created station's ID into its update, a submitted job's ID into its claim, a pairing
code into the pairing, a paired device's ID into its unpairing). Clients and generators read
them from ``/openapi.json``; the fuzzing suite (``tests/security/test_fuzz.py``) follows them to
reach deep states.

Each entry: (path, method, status) → {link name: (target operationId, parameters, request body)}.
Operation IDs are the endpoint functions' names (``main.py`` sets them so).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

JOB_ID = {"job_id": "$response.body#/id"}
LOCATION_ID = {"location_id": "$response.body#/id"}

Link = tuple[str, dict[str, str], dict[str, Any] | None]

LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    ("/v1/locations", "post", "201"): {
        "CreateStation": ("create_station", LOCATION_ID, None),
        "ListStations": ("list_stations", LOCATION_ID, None),
        "ListJobs": ("list_jobs", LOCATION_ID, None),
        "ListDevices": ("list_devices", LOCATION_ID, None),
        "SubmitJob": ("submit_job", {}, {"location_id": "$response.body#/id"}),
        "CreatePairingCode": (
            "create_pairing_code",
            {},
            {"location_id": "$response.body#/id", "kind": "print_bridge"},
        ),
    },
    ("/v1/locations/{location_id}/stations", "post", "201"): {
        "UpdateStation": ("update_station", {"station_id": "$response.body#/id"}, None),
        "SubmitJob": (
            "submit_job",
            {},
            {
                "location_id": "$response.body#/location_id",
                "station_id": "$response.body#/id",
            },
        ),
        "CreatePairingCode": (
            "create_pairing_code",
            {},
            {
                "location_id": "$response.body#/location_id",
                "station_id": "$response.body#/id",
                "kind": "print_bridge",
            },
        ),
    },
    ("/v1/pairing-codes", "post", "201"): {
        "Pair": ("pair_device", {}, {"code": "$response.body#/code"}),
    },
    ("/v1/devices/pair", "post", "201"): {
        "Unpair": ("unpair_device", {"device_id": "$response.body#/device/id"}, None),
        # A job in the new device's scope, which that device can then claim and report.
        "SubmitJobForDevice": (
            "submit_job",
            {},
            {
                "location_id": "$response.body#/device/location_id",
                "station_id": "$response.body#/device/station_id",
            },
        ),
    },
    ("/v1/api-keys", "post", "201"): {
        "DeleteKey": ("delete_api_key", {"key_id": "$response.body#/id"}, None),
    },
}

# A submitted job (201, or 200 for an idempotent repeat), a claimed or reported one, a reprint:
# each can be read, claimed or reported, cancelled, reprinted, and its history listed.
_JOB_LINKS: dict[str, Link] = {
    "GetJob": ("get_job", JOB_ID, None),
    "ClaimOrReportJob": ("claim_or_report", JOB_ID, None),
    "JobHistory": ("job_history", JOB_ID, None),
    "CancelJob": ("cancel_job", JOB_ID, None),
    "ReprintJob": ("reprint_job", JOB_ID, None),
}
for _key in [
    ("/v1/print-jobs", "post", "201"),
    ("/v1/print-jobs", "post", "200"),
    ("/v1/print-jobs/{job_id}", "patch", "200"),
    ("/v1/print-jobs/{job_id}/reprint", "post", "201"),
]:
    LINKS[_key] = _JOB_LINKS


def _as_openapi(link: Link) -> dict[str, Any]:
    operation_id, parameters, body = link
    out: dict[str, Any] = {"operationId": operation_id}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    return out


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Write ``LINKS`` into a generated schema; a link to a missing response is a bug here."""
    for (path, method, status), links in LINKS.items():
        response = schema["paths"][path][method]["responses"][status]
        response["links"] = {name: _as_openapi(link) for name, link in links.items()}
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the generated schema with its links (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            app.openapi_schema = add_links(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
