"""FastAPI dependencies: the bearer secret in, a Principal of an allowed kind out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.principals import Principal, PrincipalKind
from app.auth.service import authenticate
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(
    auto_error=False, description="API key (prk_…), device token (prd_…) or admin token"
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Send 'Authorization: Bearer <secret>'.")
    state = request.app.state
    return await authenticate(state.db, credentials.credentials, state.settings.admin_token)


def allow(*kinds: PrincipalKind) -> Callable[..., Awaitable[Principal]]:
    allowed = frozenset(kinds)

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.kind not in allowed:
            raise Forbidden(f"A {principal.kind} credential may not do that.")
        return principal

    # Read by the isolation-matrix test to know each route's roles from the route table.
    dependency.allowed_kinds = allowed  # type: ignore[attr-defined]
    return dependency


Admin = Annotated[Principal, Depends(allow(PrincipalKind.ADMIN))]
Manager = Annotated[Principal, Depends(allow(PrincipalKind.MANAGER))]
PosOrManager = Annotated[Principal, Depends(allow(PrincipalKind.MANAGER, PrincipalKind.POS))]
DeviceOnly = Annotated[Principal, Depends(allow(PrincipalKind.DEVICE))]
JobReader = Annotated[
    Principal, Depends(allow(PrincipalKind.MANAGER, PrincipalKind.POS, PrincipalKind.DEVICE))
]
AnyPrincipal = Annotated[Principal, Depends(current_principal)]
