"""Pieces shared by the request and response schemas of every domain module."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

T = TypeVar("T")

# What JSON Schema's ``\s`` matches (ECMA-262). Python's ``str.strip()`` also strips U+001C-U+001F
# and U+0085 but not U+FEFF: a name of U+0085 would pass the schema's pattern and then be
# refused as empty (schemathesis found it).
SCHEMA_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _strip_schema_whitespace(value: Any) -> Any:
    return value.strip(SCHEMA_WHITESPACE) if isinstance(value, str) else value


# Surrounding whitespace is stripped, so a name needs one other character (the schema says so,
# with the same idea of whitespace).
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    BeforeValidator(_strip_schema_whitespace),
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
