"""The request-body hardening of ``app.schemas_common.Input`` is applied once per shared schema."""

from __future__ import annotations

import pytest


def test_hardening_a_shared_schema_again_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic shares a type's core schema (``PaperWidth``) between the models that use it, and
    every app built hardens the models again: the integer-literal guard must wrap it once, or
    each new app nests it deeper until generating /openapi.json overflows the stack."""
    from app.config import Settings
    from app.locations import schemas
    from app.main import create_app

    monkeypatch.setenv("PRINTRELAY_ENV", "development")
    sizes = []
    for _ in range(3):
        app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
        app.openapi()
        sizes.append(
            [
                str(model.__pydantic_core_schema__).count("function-before")
                for model in (schemas.StationCreate, schemas.StationUpdate)
            ]
        )
    assert sizes[0] == sizes[1] == sizes[2]
