"""Pieces shared by the request and response schemas of every domain module."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

# Surrounding whitespace is stripped, so a name needs one other character (the schema says so).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(json_schema_extra={"pattern": r"\S"}),
]

# An owner epoch as a claim or report carries it. Epochs count takeovers; bounding them to what
# JavaScript holds exactly (2^53 - 1, below the database's signed 64 bits) makes a larger one
# invalid input (422), never a database error, and keeps browser bridges exact.
MAX_EPOCH = 2**53 - 1
Epoch = Annotated[int, Field(ge=0, le=MAX_EPOCH)]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ItemList(Output, Generic[T]):
    items: list[T]
