"""The reverse proxy shipped in docker-compose.yml (deploy/nginx.conf), issue 19 item 8.

The compose file is read as data (only the proxy publishes a port). Where nginx is installed,
the shipped configuration is run as it is, pointed at a real ``printrelay serve`` on loopback:
REST passes, a Socket.IO websocket upgrades through it, and a request head that trickles is
cut off (the header timeout shortened for the test). Without nginx those two tests skip.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
import yaml

from tests.databases import IN_CI
from tests.servers import free_port, running_server

REPO = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO / "deploy" / "nginx.conf"
PROXY_HEAD_TIMEOUT_S = 1
NGINX = shutil.which("nginx")
# Locally these skip without nginx; CI (.ci/run installs it) must run them.
needs_nginx = pytest.mark.skipif(NGINX is None and not IN_CI, reason="nginx is not installed")


def test_only_the_proxy_publishes_a_port_and_it_runs_the_shipped_config() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    assert "server api:8000;" in NGINX_CONF.read_text()
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"


def _local_config(tmp_path: Path, upstream_port: int, listen_port: int) -> Path:
    """The shipped configuration, only pointed at loopback, with its files under tmp_path."""
    text = NGINX_CONF.read_text()
    text = text.replace("server api:8000;", f"server 127.0.0.1:{upstream_port};")
    text = text.replace("listen 8000;", f"listen 127.0.0.1:{listen_port};")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    text = re.sub(
        r"client_header_timeout \d+s;", f"client_header_timeout {PROXY_HEAD_TIMEOUT_S}s;", text
    )
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp_paths, 1)
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[str]:
    """A real server behind nginx running the shipped configuration; the proxy's URL."""
    assert NGINX is not None, "nginx is required when CI=true (.ci/run installs it)"
    with running_server(f"sqlite:///{tmp_path / 'proxy.db'}", cwd=tmp_path) as server_url:
        listen = free_port()
        conf = _local_config(tmp_path, int(server_url.rsplit(":", 1)[1]), listen)
        command = [NGINX, "-c", str(conf), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"]
        subprocess.run([*command[:-2], "-t"], check=True, capture_output=True)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{listen}"
            deadline = time.monotonic() + 10
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@needs_nginx
async def test_rest_and_websockets_pass_through_the_shipped_proxy(proxied: str) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{proxied}/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        refused = await client.get(f"{proxied}/v1/devices")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    ws_url = proxied.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0") and '"sid"' in opened  # Engine.IO's open packet


@needs_nginx
async def test_the_shipped_proxy_cuts_off_a_trickling_request_head(proxied: str) -> None:
    host, port = proxied.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for line in range(10 * PROXY_HEAD_TIMEOUT_S):  # a line every 0.5 s for 5 timeouts
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1024), 0.5)
            except TimeoutError:
                writer.write(b"X-Slow-%d: still coming\r\n" % line)
                continue
            except ConnectionError:
                data = b""
            closed = data == b"" or data.startswith(b"HTTP/1.1 408")
            break
        assert closed, "nginx kept a trickling request head open"
    finally:
        writer.close()
