from __future__ import annotations

import uuid

from app.models import ApiKeyRole
from app.schemas_common import Input, Name, Output


class TenantCreate(Input):
    name: Name


class TenantOut(Output):
    id: uuid.UUID
    name: str


class ApiKeyCreate(Input):
    name: Name
    role: ApiKeyRole


class ApiKeyOut(Output):
    id: uuid.UUID
    name: str
    role: ApiKeyRole


class ApiKeyWithSecret(ApiKeyOut):
    secret: str


class FirstApiKey(Output):
    id: uuid.UUID
    role: ApiKeyRole
    secret: str


class TenantCreated(Output):
    tenant: TenantOut
    api_key: FirstApiKey
