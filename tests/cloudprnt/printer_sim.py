"""A Star CloudPRNT printer, simulated from Star's documentation (not from this server).

Sources: Star CloudPRNT Developer Guide rev 1.4 (sections 3-7) and Star's current protocol
reference (star-m.jp: "Polling the server (POST)" JSON request and response, "Print job
requests (GET)", "Print job confirmation (DELETE)"). What the printer does:

- POST to its URL at each poll, a JSON body with ``status`` (Star ASB bytes in hex, space
  separated), ``printerMAC``, ``statusCode`` (URL-encoded, "200%20OK"), ``printingInProgress``
  and ``clientAction`` (its answers to what the last answer asked; null otherwise).
- An answer with ``clientAction`` requests: it answers them in its next poll and does not
  print on that round. ``jobReady: true`` with ``mediaTypes``: it picks the first type of its
  own list (its preference) that the server offers and GETs ``?uid=&type=&mac=&token=``
  (``token``: the answer's ``jobToken``).
- After printing it sends DELETE ``?mac=&code=200%20OK&token=``; when it cannot handle the
  data, DELETE with its error code (e.g. "510 Incompatible media type"). A GET may be repeated
  for the same job; the server must serve the same job again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

# ASB of a healthy printer: two header bytes then status bytes, all clear (guide example:
# "23 6 0 0 0 0 0 0 0 ").
ASB_OK = "23 86 00 00 00 00 00 00 00"
# Status 4 (the sixth byte): paper end is bit 3; paper near end is bit 2.
ASB_PAPER_END = "23 86 00 00 00 08 00 00 00"
ASB_NEAR_END = "23 86 00 00 00 04 00 00 00"
# Status 1 (the third byte): cover open is bit 5.
ASB_COVER_OPEN = "23 86 20 00 00 00 00 00 00"
# The HI01X's Encodings answer in the guide's example.
HI01X_ENCODINGS = (
    "image/png; image/jpeg; application/vnd.star.raster; application/vnd.star.line; "
    "application/vnd.star.linematrix; text/plain; application/octet-stream"
)
PNG_ONLY = "image/png; image/jpeg"


@dataclass
class Printed:
    token: str | None
    media_type: str
    body: bytes
    headers: dict[str, str]


@dataclass
class CloudPrntPrinter:
    client: httpx.AsyncClient
    url: str  # the server URL as typed into the printer's settings
    mac: str = "00:11:62:0a:0b:0c"
    encodings: str = HI01X_ENCODINGS
    poll_interval_s: int = 5
    status_code: str = "200 OK"
    asb: str | None = ASB_OK
    uid: str | None = None
    printed: list[Printed] = field(default_factory=list)
    _answers: list[dict[str, Any]] = field(default_factory=list)

    def _query(self, **params: str | None) -> str:
        given = {"mac": self.mac, "uid": self.uid, **params}
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in given.items() if v is not None)

    async def post(self, printing: bool = False) -> httpx.Response:
        body: dict[str, Any] = {
            "printerMAC": self.mac,
            "statusCode": quote(self.status_code),
            "printingInProgress": printing,
            "clientAction": self._answers or None,
        }
        if self.asb is not None:
            body["status"] = self.asb
        self._answers = []
        return await self.client.post(self.url, json=body)

    async def poll(self) -> dict[str, Any]:
        """One poll; client actions asked are answered at the next poll (as a printer does)."""
        r = await self.post()
        assert r.status_code == 200, (r.status_code, r.text)
        answer: dict[str, Any] = r.json()
        for action in answer.get("clientAction") or []:
            self._answers.append({"request": action["request"], "result": self._do(action)})
        return answer

    def _do(self, action: dict[str, Any]) -> Any:
        match action["request"]:
            case "GetPollInterval":
                return str(self.poll_interval_s)
            case "Encodings":
                return self.encodings
            case "ClientType":
                return "Star Intelligent Interface HI01X"
            case _:
                return ""

    async def poll_until_settled(self) -> dict[str, Any]:
        """Poll again at once while the server asks client actions (as the guide says)."""
        answer = await self.poll()
        while answer.get("clientAction"):
            answer = await self.poll()
        return answer

    def choose(self, offered: list[str]) -> str | None:
        mine = [m.strip() for m in self.encodings.split(";")]
        return next((m for m in mine if m in offered), None)

    async def fetch(self, media_type: str | None, token: str | None) -> httpx.Response:
        return await self.client.get(f"{self.url}?{self._query(type=media_type, token=token)}")

    async def confirm(self, code: str, token: str | None) -> httpx.Response:
        return await self.client.delete(f"{self.url}?{self._query(code=code, token=token)}")

    async def print_next(self) -> Printed | None:
        """Poll; if a job is ready: fetch it in the preferred type, print it, confirm it.
        None when nothing was ready or another printer or bridge got the job first (404)."""
        answer = await self.poll_until_settled()
        if not answer.get("jobReady"):
            return None
        token = answer.get("jobToken")
        media_type = self.choose(answer["mediaTypes"])
        if media_type is None:
            await self.confirm("510 Incompatible media type", token)
            return None
        r = await self.fetch(media_type, token)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, (r.status_code, r.text)
        printed = Printed(token, r.headers["content-type"], r.content, dict(r.headers))
        done = await self.confirm("200 OK", token)
        assert done.status_code == 200, (done.status_code, done.text)
        self.printed.append(printed)
        return printed
