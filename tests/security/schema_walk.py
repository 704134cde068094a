"""Every string, integer and boolean a request body can carry, found by walking the schemas.

Each request model (every ``Input`` subclass: REST bodies, socket payloads, document blocks)
has a valid sample here; ``leaves`` walks a validated sample and yields the path of each scalar
it holds, and ``declared_fields`` lists what the models declare, so a test can assert that the
samples reach every string, integer and boolean field there is: a new field (or a new model)
without a sample fails that assertion instead of escaping the boundary tests.
"""

from __future__ import annotations

import base64
import copy
import io
import types
import typing
from collections.abc import Iterator
from typing import Any

from PIL import Image
from pydantic import BaseModel

import app.main
import app.realtime.messages  # noqa: F401
from app.schemas_common import Input

Path = tuple[str | int, ...]


def png_base64(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("1", (width, height), 1).save(buffer, "PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode()


LOGO = png_base64(576, 120)  # an 80 mm receipt's logo

# A document with every block type and every optional field set.
EVERY_BLOCK: dict[str, Any] = {
    "blocks": [
        {
            "type": "text",
            "text": "COCINA",
            "align": "center",
            "bold": True,
            "underline": False,
            "size": "double",
        },
        {"type": "row", "left": "2x Burger", "right": "19.00"},
        {"type": "rule", "char": "="},
        {"type": "feed", "lines": 2},
        {"type": "qr", "data": "https://example.com/r/42"},
        {"type": "barcode", "data": "4006381333931", "symbology": "EAN13"},
        {"type": "barcode", "data": "ORDER-42", "symbology": "CODE128"},
        {"type": "image", "png_base64": LOGO},
        {"type": "cut", "mode": "partial"},
    ]
}


def all_input_models() -> set[type[Input]]:
    found: set[type[Input]] = set()
    pending = list(Input.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.add(cls)
            pending.extend(cls.__subclasses__())
    return found


SCALARS = (str, int, bool)


def _scalar_kinds(annotation: Any) -> set[type]:
    """The scalar types (str, int, bool) an annotation admits, through unions and Literals."""
    origin = typing.get_origin(annotation)
    if annotation in SCALARS:
        return {annotation}
    if origin is typing.Literal:
        return {type(v) for v in typing.get_args(annotation) if type(v) in SCALARS}
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        return set().union(*(_scalar_kinds(a) for a in typing.get_args(annotation)))
    return set()


def declared_fields() -> set[tuple[str, str]]:
    """(model, field) for every request field that can hold a str, an int or a bool
    (enum-valued Literals excluded: their members are checked as enums)."""
    return {
        (cls.__name__, name)
        for cls in all_input_models()
        for name, info in cls.model_fields.items()
        if _scalar_kinds(info.annotation)
    }


def leaves(model: BaseModel, path: Path = ()) -> Iterator[tuple[Path, str, Any]]:
    """(path in the JSON body, "Model.field", value) for every scalar of a validated model."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _leaves_of(value, (*path, name), f"{type(model).__name__}.{name}")


def _leaves_of(value: Any, path: Path, field: str) -> Iterator[tuple[Path, str, Any]]:
    if isinstance(value, BaseModel):
        yield from leaves(value, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves_of(item, (*path, index), field)
    elif type(value) in SCALARS:
        yield path, field, value


def set_at(body: Any, path: Path, value: Any) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def with_nul(value: str) -> str:
    return value[:1] + "\x00" + value[1:] if len(value) > 1 else "\x00"


def loose_values(value: Any) -> list[Any]:
    """What a lax parser would take for ``value`` (an int or a bool) and a strict one refuses."""
    if type(value) is bool:
        return ["yes", "true", int(value), float(value)]
    return [True, float(value), str(value)]


def is_free_text(field: str) -> bool:
    """Whether "Model.field" is a free string (not a Literal's choice)."""
    model_name, name = field.split(".")
    model = next(m for m in all_input_models() if m.__name__ == model_name)
    return str in _scalar_kinds(model.model_fields[name].annotation) and (
        typing.get_origin(model.model_fields[name].annotation) is not typing.Literal
    )
