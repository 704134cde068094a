from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api_common import AppSettings, Db
from app.auth.dependencies import AuthFirstRoute, Manager
from app.errors import ERROR_RESPONSES, EncryptionNotConfigured, ErrorBody
from app.models import WebhookEndpoint
from app.schemas_common import ItemList
from app.webhooks import service
from app.webhooks.schemas import DeliveryAttemptOut, WebhookCreate, WebhookCreated, WebhookOut

router = APIRouter(
    prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES, route_class=AuthFirstRoute
)


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=service.events_of(endpoint),
        location_id=endpoint.location_id,
        created_at=endpoint.created_at,
    )


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={503: {"model": ErrorBody, "description": "service_unavailable (no encryption key)"}},
)
async def create_webhook(
    body: WebhookCreate, principal: Manager, db: Db, settings: AppSettings
) -> WebhookCreated:
    """The signing secret is in this answer only (stored encrypted: 503 when the server has
    no encryption key). The URL must be http(s) and resolve only to public addresses (unless
    PRINTRELAY_WEBHOOK_ALLOW_PRIVATE)."""
    box = settings.secret_box()
    if box is None:
        raise EncryptionNotConfigured()
    await service.check_url(body.url, allow_private=settings.webhook_allow_private)
    async with db.transaction() as tx:
        endpoint, secret = await service.create_endpoint(
            tx, principal, body.url, body.events, body.location_id, box
        )
    return WebhookCreated(**_out(endpoint).model_dump(), secret=secret)


@router.get("/webhooks", response_model=ItemList[WebhookOut])
async def list_webhooks(principal: Manager, db: Db) -> ItemList[WebhookOut]:
    async with db.transaction() as tx:
        endpoints = await service.list_endpoints(tx, principal)
    return ItemList[WebhookOut](items=[_out(e) for e in endpoints])


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: uuid.UUID, principal: Manager, db: Db) -> Response:
    async with db.transaction() as tx:
        await service.delete_endpoint(tx, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=ItemList[DeliveryAttemptOut])
async def list_webhook_deliveries(
    webhook_id: uuid.UUID, principal: Manager, db: Db
) -> ItemList[DeliveryAttemptOut]:
    """The latest 100 attempts, newest first: status code or error, attempt number, time."""
    async with db.transaction() as tx:
        attempts = await service.deliveries(tx, principal, webhook_id)
    return ItemList[DeliveryAttemptOut](
        items=[DeliveryAttemptOut.model_validate(a, from_attributes=True) for a in attempts]
    )
