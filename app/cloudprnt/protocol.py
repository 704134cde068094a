"""The CloudPRNT protocol's messages and rules, pure (no I/O): what a printer sends, what it
is answered, how its status reads as a printer state, and which media a job is served in.

From Star's CloudPRNT Developer Guide (rev 1.4) and its current protocol reference
(star-m.jp, "Polling the server (POST)", "Print job requests (GET)", "Print job confirmation
(DELETE)"); docs/cloudprnt.md lists the pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models import PrinterState

# Every document is served as a picture of its paper; CloudPRNT printers all print PNG.
PNG = "image/png"
# A printer's own command languages (guide, "Content Media Types"); a raw job is served in the
# first of them that the printer lists in its Encodings answer. Star Raster is a command set
# for pictures, not a language a POS writes receipts in, so it is not offered for raw bytes.
COMMAND_MEDIA_PREFIX = "application/vnd.star."
NOT_FOR_RAW = frozenset({"application/vnd.star.raster"})
# The guide: "If it not specified, then the client will use the default 5 seconds."
DEFAULT_POLL_INTERVAL_S = 5
MAX_POLL_INTERVAL_S = 3600
# Client actions asked of a printer whose interval and media types are not known yet.
GET_POLL_INTERVAL = "GetPollInterval"
ENCODINGS = "Encodings"
# A job's error when the printer offers no media type the job can be served in.
UNSUPPORTED_MEDIA = "unsupported_media"
MAX_ERROR_CHARS = 200  # as a report's error (JobUpdate.error)

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


def normalize_mac(value: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for a MAC address in any usual spelling; None for anything else."""
    text = value.strip().lower()
    if not _MAC.match(text):
        return None
    digits = re.sub(r"[:-]", "", text)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


class ClientActionResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request: str = Field(max_length=100)
    result: Any = None


class Poll(BaseModel):
    """The JSON body of a printer's POST. Only ``statusCode`` is always sent (guide: "All
    fields, except statusCode are optional"); fields for peripherals are ignored. This server
    also needs ``printerMAC``: it is how a printer is told apart from a leaked URL."""

    model_config = ConfigDict(extra="ignore")

    status_code: str = Field(alias="statusCode", min_length=1, max_length=200)
    printer_mac: str = Field(alias="printerMAC", min_length=1, max_length=40)
    status: str | None = Field(default=None, max_length=200)
    printing_in_progress: bool | None = Field(default=None, alias="printingInProgress")
    client_action: list[ClientActionResult] | None = Field(
        default=None, alias="clientAction", max_length=20
    )
    job_token: str | None = Field(default=None, alias="jobToken", max_length=100)

    @field_validator("printer_mac")
    @classmethod
    def _mac(cls, value: str) -> str:
        mac = normalize_mac(value)
        if mac is None:
            raise ValueError("not a MAC address")
        return mac


@dataclass(frozen=True, slots=True)
class ClientAnswers:
    """What a poll's ``clientAction`` results said (None: not in this poll)."""

    poll_interval_s: int | None = None
    media_types: str | None = None


def client_answers(results: Sequence[ClientActionResult] | None) -> ClientAnswers:
    interval: int | None = None
    media: str | None = None
    for item in results or ():
        if item.request == GET_POLL_INTERVAL:
            try:
                interval = min(MAX_POLL_INTERVAL_S, max(1, int(str(item.result).strip())))
            except ValueError:
                interval = DEFAULT_POLL_INTERVAL_S
        elif item.request == ENCODINGS:
            media = str(item.result or "")[:500]
    return ClientAnswers(interval, media)


def media_types_of(encodings: str | None) -> list[str]:
    """The media types of an Encodings answer ("image/png; image/jpeg; ..."), lower case."""
    return [m.strip().lower() for m in (encodings or "").split(";") if m.strip()]


def command_media_type(encodings: str | None) -> str | None:
    """The media type a raw job is served in: the printer's first command language."""
    for media in media_types_of(encodings):
        if media.startswith(COMMAND_MEDIA_PREFIX) and media not in NOT_FOR_RAW:
            return media
    return None


def status_code_of(raw: str) -> str:
    """A status code as sent ("200%20OK", URL-encoded: guide, "statusCode"), decoded."""
    return unquote(raw).strip()


def printed(code: str) -> bool:
    """A confirmation's ``code`` means printed: "OK" (guide rev 1.4) or any 2xx code."""
    code = status_code_of(code)
    return code.upper() == "OK" or code[:1] == "2"


def _state_of_code(code: str) -> PrinterState:
    """Printer Status Codes (guide, section 7): 2xx online, 21x a paper warning, 410 out of
    paper, 41x another paper error (a jam), 42x cover open, other 4xx printer errors, 5xx
    client errors."""
    digits = code[:3]
    if not (len(digits) == 3 and digits.isdigit()):
        return PrinterState.ERROR
    if digits[0] == "2":
        return PrinterState.PAPER_LOW if digits[1] == "1" else PrinterState.ONLINE
    if digits == "410":
        return PrinterState.PAPER_OUT
    if digits[:2] == "42":
        return PrinterState.COVER_OPEN
    return PrinterState.ERROR


# Star ASB status bytes (after two header bytes): status 1 has offline (bit 3) and cover open
# (bit 5); status 4 has paper near end (bit 2) and paper end (bit 3).
ASB_STATUS_1, ASB_OFFLINE, ASB_COVER_OPEN = 2, 0x08, 0x20
ASB_STATUS_4, ASB_NEAR_END, ASB_PAPER_END = 5, 0x04, 0x08


def _asb_bytes(status: str | None) -> list[int]:
    try:
        return [int(part, 16) & 0xFF for part in (status or "").split()]
    except ValueError:
        return []


def printer_state(status_code: str, asb: str | None = None) -> PrinterState:
    """The contract's printer state for a poll's ``statusCode`` and ``status`` (ASB hex): the
    code says online or not and why; the ASB bytes, when sent, say more precisely why."""
    state = _state_of_code(status_code_of(status_code))
    asb_bytes = _asb_bytes(asb)
    status_1 = asb_bytes[ASB_STATUS_1] if len(asb_bytes) > ASB_STATUS_1 else 0
    status_4 = asb_bytes[ASB_STATUS_4] if len(asb_bytes) > ASB_STATUS_4 else 0
    if status_1 & ASB_COVER_OPEN:
        return PrinterState.COVER_OPEN
    if status_4 & ASB_PAPER_END:
        return PrinterState.PAPER_OUT
    usable = state in (PrinterState.ONLINE, PrinterState.PAPER_LOW)
    if status_1 & ASB_OFFLINE and usable:
        return PrinterState.ERROR
    if status_4 & ASB_NEAR_END and state is PrinterState.ONLINE:
        return PrinterState.PAPER_LOW
    return state


def poll_answer(
    job_token: str | None, media_types: Sequence[str], ask: Sequence[str] = ()
) -> dict[str, Any]:
    """The JSON answer to a poll: a job ready in these media types, or client actions (the
    guide: a printer asked for client actions does not print on that round), or nothing."""
    if ask:
        return {"jobReady": False, "clientAction": [{"request": r, "options": ""} for r in ask]}
    if job_token is None:
        return {"jobReady": False}
    return {
        "jobReady": True,
        "mediaTypes": list(media_types),
        "jobToken": job_token,
        "deleteMethod": "DELETE",
    }


def png_document(document: Mapping[str, Any], copies: int) -> tuple[dict[str, Any], str]:
    """The document a PNG job prints, and its ``X-Star-Cut`` header value.

    A picture cannot cut paper: the printer cuts once, after the picture, as the header says
    (the last cut block's mode; ``none`` without one). Cut blocks are left out of the picture
    (the renderer would draw their marks), and copies follow each other in one picture."""
    blocks = [b for b in document.get("blocks", []) if b.get("type") != "cut"]
    cuts = [b for b in document.get("blocks", []) if b.get("type") == "cut"]
    cut = "none" if not cuts else str(cuts[-1].get("mode") or "full")
    return {**document, "blocks": blocks * max(1, copies)}, f"{cut}; feed=true"
