"""Sends the webhook outbox: a background task in every server process.

A process claims due deliveries in one short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two processes never take the same row), which also moves their next try past
the send's timeout: should the process die mid-send, the delivery is due again then (at least
once). Each is POSTed to the address ``ssrf`` checked (the name is not resolved again; https
still sends the name in SNI and verifies the certificate against it), signed with the
endpoint's secret (decrypted here, app/secret_box.py), with no redirects followed, and the
outcome is logged per endpoint. A non-2xx answer or an error is
retried after base * 2^(attempt-1) seconds, capped, until the event is older than the max age.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import certifi
import httpx

from app.config import Settings
from app.db import Database, utcnow
from app.models import WebhookDelivery, WebhookEndpoint
from app.secret_box import SecretUnavailable, open_secret
from app.webhooks import repository, ssrf

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Printrelay-Signature"
BATCH = 50  # deliveries one process claims at a time
LEASE_MARGIN_S = 5.0  # past the timeout, before a claimed delivery is due again
ERROR_CHARS = 200


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The public CAs (certifi's bundle, as httpx's default), plus PRINTRELAY_WEBHOOK_CA_FILE."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(delivery: WebhookDelivery, place: tuple[Any, Any] | None) -> dict[str, Any]:
    location, station = place if place is not None else (None, None)
    data: dict[str, Any]
    if delivery.event_type == "print_job.updated":
        data = {
            "job_id": str(delivery.subject_id),
            "location_id": str(location) if location else None,
            "station_id": str(station) if station else None,
            "status": delivery.state,
            "previous_status": delivery.previous,
            "error": delivery.error,
        }
    else:
        data = {
            "device_id": str(delivery.subject_id),
            "location_id": str(location) if location else None,
            "station_id": str(station) if station else None,
            "online": delivery.state == "online",
            "printer_state": delivery.printer_state,
            "printer_state_at": (
                _iso(delivery.printer_state_at) if delivery.printer_state_at else None
            ),
        }
    return {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created_at": _iso(delivery.occurred_at),
        "data": data,
    }


def failure_reason(exc: httpx.HTTPError) -> str:
    """What the delivery log says of a failed request: the TLS verdict when there is one
    (a certificate for another name, an unknown CA), else the kind of error."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate refused: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or type(cause).__name__}"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.box = settings.secret_box()
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=settings.webhook_timeout_s,
            trust_env=False,
            verify=tls_context(settings.webhook_ca_file),
        )

    async def close(self) -> None:
        await self._client.aclose()

    def backoff_s(self, attempt: int) -> float:
        base, cap = self.settings.webhook_backoff_base_s, self.settings.webhook_backoff_cap_s
        return float(min(cap, base * 2 ** min(attempt - 1, 60)))

    async def run_once(self) -> int:
        """Claim the due deliveries, send them, record what happened; how many were due."""
        now = utcnow()
        lease = timedelta(seconds=self.settings.webhook_timeout_s + LEASE_MARGIN_S)
        async with self.db.transaction() as tx:
            batch = await repository.claim_due(tx, now, now + lease, BATCH)
            if not batch:
                return 0
            endpoints = await repository.endpoints_by_id(tx, {d.endpoint_id for d in batch})
            places = await repository.subject_places(tx, batch)
        outcomes = await asyncio.gather(
            *(self._send(d, endpoints.get(d.endpoint_id), places.get(d.subject_id)) for d in batch)
        )
        done = utcnow()
        async with self.db.transaction() as tx:
            for delivery, outcome in zip(batch, outcomes, strict=True):
                # A webhook deleted meanwhile took its deliveries and log with it.
                if delivery.endpoint_id in endpoints:
                    await self._record(tx, delivery, outcome, done)
        return len(batch)

    async def _record(
        self, tx: Any, delivery: WebhookDelivery, outcome: Outcome, at: datetime
    ) -> None:
        if outcome.ok:
            status, due = repository.DELIVERED, at
        else:
            due = at + timedelta(seconds=self.backoff_s(delivery.attempts))
            expired = due - delivery.occurred_at > timedelta(
                seconds=self.settings.webhook_max_age_s
            )
            status = repository.FAILED if expired else repository.PENDING
        await repository.record_attempt(
            tx,
            delivery,
            status_code=outcome.status_code,
            error=outcome.error,
            at=at,
            status=status,
            next_attempt_at=due,
        )

    async def _send(
        self,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint | None,
        place: tuple[Any, Any] | None,
    ) -> Outcome:
        if endpoint is None:
            return Outcome(None, "webhook deleted")
        try:
            secret = open_secret(self.box, endpoint.secret)
        except SecretUnavailable as exc:
            # Retried like a refused delivery: the event goes out once the key is back.
            log.error("webhook %s: %s", endpoint.id, exc)
            return Outcome(None, str(exc)[:ERROR_CHARS])
        body = json.dumps(event_body(delivery, place), separators=(",", ":")).encode()
        timestamp = int(time.time())
        try:
            target = ssrf.parse_url(endpoint.url)
            ip = await ssrf.checked_address(
                target, allow_private=self.settings.webhook_allow_private
            )
            host = f"[{ip}]" if ip.version == 6 else str(ip)
            default_port = 443 if target.scheme == "https" else 80
            host_header = target.host if ":" not in target.host else f"[{target.host}]"
            if target.port != default_port:
                host_header += f":{target.port}"
            url = f"{target.scheme}://{host}:{target.port}{target.path}"
            headers = {
                "Host": host_header,
                "Content-Type": "application/json",
                "User-Agent": "Printrelay-Webhooks/1",
                SIGNATURE_HEADER: signature(secret, timestamp, body),
            }
            # The checked address in the URL; the name in Host and (https) in SNI and the
            # certificate check.
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            # Only the status is read: a receiver's body (however large) is never downloaded,
            # so its connection is closed, never reused. That also keeps a connection verified
            # for one name from carrying another name's event (httpx pools by the URL's host,
            # here the address): keep-alive would need a pool per name (tests/webhooks/test_tls).
            async with (
                asyncio.timeout(self.settings.webhook_timeout_s),
                self._client.stream(
                    "POST", url, content=body, headers=headers, extensions=extensions
                ) as response,
            ):
                return Outcome(response.status_code, None)
        except ssrf.UnsafeTarget as exc:
            return Outcome(None, str(exc)[:ERROR_CHARS])
        except TimeoutError:
            return Outcome(None, "timed out")
        except httpx.HTTPError as exc:
            return Outcome(None, failure_reason(exc)[:ERROR_CHARS])

    async def run_forever(self) -> None:
        while True:
            try:
                busy = await self.run_once() >= BATCH
            except Exception:  # a database blip must not end the sender
                log.exception("webhook sender failed; retrying")
                busy = False
            if not busy:
                await asyncio.sleep(self.settings.webhook_poll_interval_s)
