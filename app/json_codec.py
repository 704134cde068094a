"""JSON on the busy paths: orjson, several times faster than the standard library's json.

Used for Socket.IO and Engine.IO packets (python-socketio takes a module with ``dumps`` and
``loads``), the JSONB columns on the hot path, and the fast submit path's body and answer.
The text differs from ``json.dumps``'s only in spacing and in writing non-ASCII characters
as UTF-8 rather than ``\\u`` escapes; the values are the same. Stored fingerprints
(``service.request_fingerprint``) keep the standard library's canonical form.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


def dumps(obj: Any, **_: Any) -> str:
    """As ``json.dumps``; keyword arguments (separators, ...) are accepted and ignored."""
    return orjson.dumps(obj).decode()


def loads(data: str | bytes, **_: Any) -> Any:
    """As ``json.loads``, but NaN, Infinity and numbers too large for a double are refused
    (``ValueError``), and integers beyond 64 bits come back as floats (every integer field of
    the API is bounded far below that, so validation refuses them either way)."""
    return orjson.loads(data)


class JsonObject(dict[str, Any]):
    """A dict whose values are all JSON already: strings, numbers, booleans, None, and lists
    and dicts of them, never bytes. The socket layer takes that on trust and does not walk it
    looking for binary attachments (``app.realtime.packets``); ``job_wire`` makes one for
    every status change of every job. Serialised as any dict."""

    __slots__ = ()


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
