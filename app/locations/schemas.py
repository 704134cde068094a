from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.models.station import DEFAULT_FALLBACK_AFTER_S
from app.schemas_common import Input, Name, Output

PaperWidth = Literal[58, 80]
# Seconds every online station bridge must report a printer that cannot print before the
# location bridges take the station's jobs (contract: Scope); null: never. At most a day.
FallbackAfter = Annotated[int, Field(ge=0, le=86_400)]


class LocationCreate(Input):
    name: Name


class LocationOut(Output):
    id: uuid.UUID
    name: str


class StationCreate(Input):
    name: Name
    paper_width_mm: PaperWidth = 80
    fallback_after_s: FallbackAfter | None = DEFAULT_FALLBACK_AFTER_S


def _at_least_one_field(schema: dict[str, Any]) -> None:
    schema["minProperties"] = 1
    for field in schema["properties"].values():
        field.pop("default", None)  # "unchanged", not a null a client could send


class StationUpdate(Input):
    """``PATCH /v1/stations/{id}``: the fields to change, at least one, none of them null
    (a station always has a name and a width), except ``fallback_after_s``, whose null means
    "never fall back"."""

    # The schema says what the validators below enforce (``SkipJsonSchema[None]``: the None
    # default means "unchanged" and is never a value a client may send).
    model_config = ConfigDict(extra="forbid", json_schema_extra=_at_least_one_field)

    name: Name | SkipJsonSchema[None] = None
    paper_width_mm: PaperWidth | SkipJsonSchema[None] = None
    fallback_after_s: FallbackAfter | None = None

    @field_validator("name", "paper_width_mm", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; leave the field out to keep it")
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> StationUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of 'name', 'paper_width_mm' and 'fallback_after_s'")
        return self

    def changes(self) -> dict[str, Any]:
        """The columns to set: only the fields the request gave."""
        return self.model_dump(include=self.model_fields_set)


class StationOut(Output):
    id: uuid.UUID
    location_id: uuid.UUID
    name: str
    paper_width_mm: int
    fallback_after_s: int | None
