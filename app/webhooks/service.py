"""Webhook endpoints of a tenant: created (URL checked, secret made), listed, deleted."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from app.auth.principals import Principal
from app.db import Tx, utcnow
from app.errors import EncryptionNotConfigured, NotFound, ValidationFailed
from app.locations.service import require_location
from app.models import WebhookAttempt, WebhookEndpoint
from app.secret_box import SecretBox
from app.webhooks import repository, ssrf
from app.webhooks.schemas import WebhookEvent

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
DELIVERY_LOG_LIMIT = 100


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


def events_of(endpoint: WebhookEndpoint) -> list[WebhookEvent]:
    events = []
    if endpoint.on_print_job:
        events.append(WebhookEvent.PRINT_JOB_UPDATED)
    if endpoint.on_device_status:
        events.append(WebhookEvent.DEVICE_STATUS)
    return events


async def check_url(url: str, *, allow_private: bool) -> None:
    try:
        await ssrf.checked_address(ssrf.parse_url(url), allow_private=allow_private)
    except ssrf.UnsafeTarget as exc:
        raise ValidationFailed(str(exc)) from exc


async def create_endpoint(
    tx: Tx,
    principal: Principal,
    url: str,
    events: Sequence[WebhookEvent],
    location_id: uuid.UUID | None,
    box: SecretBox | None,
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret, which is stored encrypted only (never in clear:
    without a key, 503). The URL is checked by the caller (``check_url``), outside the
    transaction."""
    if box is None:
        raise EncryptionNotConfigured()
    if location_id is not None:
        await require_location(tx, principal.tenant, location_id)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        tenant_id=principal.tenant,
        location_id=location_id,
        url=url,
        on_print_job=WebhookEvent.PRINT_JOB_UPDATED in events,
        on_device_status=WebhookEvent.DEVICE_STATUS in events,
        secret=box.seal(secret := new_secret()),
        created_at=utcnow(),
    )
    return await repository.add_endpoint(tx, endpoint), secret


async def list_endpoints(tx: Tx, principal: Principal) -> Sequence[WebhookEndpoint]:
    return await repository.list_endpoints(tx, principal.tenant)


async def delete_endpoint(tx: Tx, principal: Principal, endpoint_id: uuid.UUID) -> None:
    if not await repository.delete_endpoint(tx, principal.tenant, endpoint_id):
        raise NotFound("Webhook not found.")


async def deliveries(
    tx: Tx, principal: Principal, endpoint_id: uuid.UUID
) -> Sequence[WebhookAttempt]:
    if await repository.get_endpoint(tx, principal.tenant, endpoint_id) is None:
        raise NotFound("Webhook not found.")
    return await repository.list_attempts(tx, principal.tenant, endpoint_id, DELIVERY_LOG_LIMIT)
