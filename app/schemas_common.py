"""Pieces shared by the request and response schemas of every domain module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
)
from pydantic_core import CoreSchema, PydanticCustomError
from pydantic_core import core_schema as cs

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


# No stored string may hold U+0000: PostgreSQL's text cannot (asyncpg raises, a 500), SQLite's
# can, and the two dialects must answer alike. ``Input`` adds this pattern to every string
# schema of a request body (Rust's regex, checked inside pydantic-core: no Python call per
# field), so the OpenAPI schema states it too and a new field cannot forget it.
NO_NUL_PATTERN = r"^[^\x00]*$"
NUL_MESSAGE = "must not contain NUL (U+0000)"

# Surrounding whitespace is stripped, so a name needs one other character (the schema says so,
# with the same idea of whitespace, and without NUL like every string).
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    BeforeValidator(_strip_schema_whitespace),
    Field(json_schema_extra={"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}),
]

# An owner epoch as a claim or report carries it. Epochs count takeovers; bounding them to what
# JavaScript holds exactly (2^53 - 1, below the database's signed 64 bits) makes a larger one
# invalid input (422), never a database error, and keeps browser bridges exact.
MAX_EPOCH = 2**53 - 1
Epoch = Annotated[int, Field(ge=0, le=MAX_EPOCH)]


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message for the contract's error body (the NUL rule in words)."""
    nul = error.get("ctx", {}).get("pattern") == NO_NUL_PATTERN
    if error.get("type") == "string_pattern_mismatch" and nul:
        return NUL_MESSAGE
    return str(error.get("msg", "invalid"))


def _require_int(value: Any) -> Any:
    if type(value) is not int:  # not a bool, a float or a numeric string
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _harden(schema: Any) -> None:
    """Makes the core schema of a request body's fields strict, in place: integers and
    booleans take only JSON integers and booleans (no ``"2"``, ``2.0``, ``true`` for 1 or
    ``"yes"``), an integer ``Literal`` too, and every string gets ``NO_NUL_PATTERN``. Nested
    models are left to their own ``Input`` hook."""
    if isinstance(schema, list):
        for item in schema:
            _harden(item)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind == "function-before" and schema.get("function", {}).get("function") is _require_int:
        return  # hardened already: pydantic shares a type's core schema between models
    if kind in ("int", "bool"):
        schema["strict"] = True
    elif kind == "str" and "pattern" not in schema:
        schema["pattern"] = NO_NUL_PATTERN
    elif kind == "literal" and all(type(v) is int for v in schema["expected"]):
        literal = dict(schema)
        schema.clear()
        schema.update(cs.no_info_before_validator_function(_require_int, literal))
        return
    for key, value in schema.items():
        if key not in ("metadata", "serialization", "config") and not (
            kind == "model" and key == "cls"
        ):
            _harden(value)


class Input(BaseModel):
    """Request bodies (REST and socket events): unknown fields are an error, not silently
    dropped; integers and booleans are strict and strings hold no NUL (see ``_harden``)."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        _harden(schema)
        return schema


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ItemList(Output, Generic[T]):
    items: list[T]
