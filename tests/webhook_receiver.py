"""A webhook receiver on loopback that verifies signatures with its own HMAC code and refuses
the first ``failures`` tries of each event (500) before accepting it (200)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a POS back end does: recompute HMAC-SHA256(secret, "<t>.<body>")."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


@dataclass
class Receiver:
    failures: int = 2
    secret: str = ""
    tries: Counter[str] = field(default_factory=Counter)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    hosts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, headers: Any, body: bytes) -> int:
        with self.lock:
            self.hosts.append(headers.get("Host", ""))
            if not verify(self.secret, headers.get("Printrelay-Signature", "t=0,v1=x"), body):
                self.bad_signatures += 1
                return 400
            event = json.loads(body)
            self.tries[event["id"]] += 1
            if self.tries[event["id"]] <= self.failures:
                return 500
            self.accepted.append(event)
            return 200

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.accepted]


@contextmanager
def running_receiver(failures: int = 2) -> Iterator[Receiver]:
    receiver = Receiver(failures=failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(receiver.handle(self.headers, body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://localhost:{server.server_address[1]}/hooks?x=1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
