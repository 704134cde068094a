"""The REST route table as the security tests read it: every APIRoute (FastAPI includes routers
lazily, so ``app.routes`` alone holds none of ``/v1``) and the principal kinds each one admits."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from app.auth.principals import PrincipalKind


def api_routes(routes: Any) -> list[APIRoute]:
    """Every APIRoute, including those inside included routers (flattened)."""
    if hasattr(routes, "routes"):  # an app or a router
        routes = routes.routes
    flat: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            flat.append(route)
        elif hasattr(route, "original_router"):
            flat.extend(api_routes(route.original_router.routes))
        elif hasattr(route, "routes"):
            flat.extend(api_routes(route.routes))
    return flat


def allowed_kinds(route: APIRoute) -> frozenset[PrincipalKind] | None:
    """The principal kinds the route's ``allow()`` dependency admits; None for a public route."""
    for dependency in route.dependant.dependencies:
        kinds = getattr(dependency.call, "allowed_kinds", None)
        if kinds is not None:
            return frozenset(kinds)
    return None
