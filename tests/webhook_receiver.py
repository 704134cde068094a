"""A webhook receiver on loopback that verifies signatures with its own HMAC code and refuses
the first ``failures`` tries of each event (500) before accepting it (200). With ``tls``: an
https receiver (HTTP/1.1, connections kept alive) presenting that certificate, reached by the
URL name ``name`` (which the test makes resolve to loopback)."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.tls import ServerCert


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
    server_names: list[str | None] = field(default_factory=list)  # TLS SNI, per handshake
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
def running_receiver(
    failures: int = 2, *, tls: ServerCert | None = None, name: str = "localhost"
) -> Iterator[Receiver]:
    receiver = Receiver(failures=failures)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if tls is not None else "HTTP/1.0"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(receiver.handle(self.headers, body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        scheme = "https"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)

        def on_server_name(_: Any, server_name: str | None, __: Any) -> None:
            with receiver.lock:
                receiver.server_names.append(server_name)

        context.sni_callback = on_server_name
        server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver.url = f"{scheme}://{name}:{server.server_address[1]}/hooks?x=1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
