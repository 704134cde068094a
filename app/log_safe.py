"""What a client sent, made safe to put in a log line.

A value logged raw can forge log lines (a newline and a fake timestamp) or drive a terminal
(ANSI escapes). ``quoted`` logs it as Python's ``repr``: quoted, with every non-printable
character escaped (newlines, ESC, bidi overrides, U+2028), and cut to a bounded length.
"""

from __future__ import annotations

# Longest text of a client's value in a log line; the rest is elided.
LOGGED_VALUE_MAX_CHARS = 200


def quoted(value: object, max_chars: int = LOGGED_VALUE_MAX_CHARS) -> str:
    text = repr(value[: max_chars + 1] if isinstance(value, str | bytes) else value)
    if len(text) > max_chars:
        return text[:max_chars] + "…"
    return text
