"""FastAPI dependencies: the bearer secret in, a Principal of an allowed kind out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.principals import Principal, PrincipalKind
from app.auth.service import authenticate
from app.errors import Forbidden, Unauthorized, ValidationFailed

_bearer = HTTPBearer(
    auto_error=False, description="API key (prk_…), device token (prd_…) or admin token"
)


def bearer_secret(authorization: str | None) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header; None for anything else."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


async def authenticate_secret(state: Any, secret: str) -> Principal:
    """``secret`` against the app's ``state`` (database, admin token, principal cache)."""
    return await authenticate(state.db, secret, state.settings.admin_token, state.principal_cache)


async def _authenticate_request(request: Request) -> Principal:
    secret = bearer_secret(request.headers.get("Authorization"))
    if secret is None:
        raise Unauthorized("Send 'Authorization: Bearer <secret>'.")
    return await authenticate_secret(request.app.state, secret)


async def current_principal(
    request: Request,
    # Declared for the OpenAPI security scheme; the header is read in _authenticate_request.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):  # authenticated already, by AuthFirstRoute
        return principal
    return await _authenticate_request(request)


def _declared_query_names(dependant: Dependant) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query_names(sub)
    return frozenset(names)


_query_names: dict[int, frozenset[str]] = {}


def reject_unknown_query(request: Request) -> None:
    """A query parameter the route does not declare is an error, as an unknown body field is:
    a misspelt filter (``?staton_id=``) must not quietly list everything."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names = _query_names.get(id(route))
    if names is None:
        names = _query_names[id(route)] = _declared_query_names(dependant)
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        raise ValidationFailed(f"query: unknown parameter {unknown[0]!r}")


def allow(*kinds: PrincipalKind) -> Callable[..., Awaitable[Principal]]:
    allowed = frozenset(kinds)

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.kind not in allowed:
            raise Forbidden(f"A {principal.kind} credential may not do that.")
        # After authentication, so an unauthenticated caller learns nothing from the check.
        reject_unknown_query(request)
        return principal

    # Read by the isolation-matrix test to know each route's roles from the route table.
    dependency.allowed_kinds = allowed  # type: ignore[attr-defined]
    return dependency


def route_allowed_kinds(dependant: Dependant) -> frozenset[PrincipalKind] | None:
    """The kinds an ``allow()`` dependency of the route admits; None for a public route."""
    for sub in dependant.dependencies:
        kinds = getattr(sub.call, "allowed_kinds", None)
        if kinds is not None:
            return frozenset(kinds)
    return None


class AuthFirstRoute(APIRoute):
    """Authenticates (401) and checks the role (403) before the body is read, so a caller
    without a valid credential learns nothing from the body's validation (422), and a revoked
    token gets 401 whatever it sends."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        kinds = route_allowed_kinds(self.dependant)
        if kinds is None:
            return handler

        async def authenticate_first(request: Request) -> Response:
            principal = await _authenticate_request(request)
            if principal.kind not in kinds:
                raise Forbidden(f"A {principal.kind} credential may not do that.")
            request.state.principal = principal
            return await handler(request)

        return authenticate_first


Admin = Annotated[Principal, Depends(allow(PrincipalKind.ADMIN))]
Manager = Annotated[Principal, Depends(allow(PrincipalKind.MANAGER))]
# Who may submit, cancel and reprint jobs (also read by app.print_jobs.fast_submit).
POS_OR_MANAGER = frozenset({PrincipalKind.MANAGER, PrincipalKind.POS})
PosOrManager = Annotated[Principal, Depends(allow(*POS_OR_MANAGER))]
DeviceOnly = Annotated[Principal, Depends(allow(PrincipalKind.DEVICE))]
JobReader = Annotated[
    Principal, Depends(allow(PrincipalKind.MANAGER, PrincipalKind.POS, PrincipalKind.DEVICE))
]
AnyPrincipal = Annotated[Principal, Depends(current_principal)]
