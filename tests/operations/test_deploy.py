"""The shipped stack (docker-compose.yml, deploy/nginx.conf) read as data: two API replicas
gated on readiness, sticky sessions for Socket.IO only. tests/security/test_proxy.py runs the
same nginx configuration against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_compose_runs_two_replicas_whose_healthcheck_is_readiness() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    api = services["api"]
    assert api["deploy"]["replicas"] == 2
    assert "PRINTRELAY_REDIS_URL" in api["environment"]  # more than one process needs Redis
    check = " ".join(api["healthcheck"]["test"])
    assert "/readyz" in check and "/healthz" not in check
    assert services["proxy"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_nginx_keeps_a_socket_session_on_one_replica_and_spreads_rest() -> None:
    conf = (REPO / "deploy" / "nginx.conf").read_text()
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", conf, flags=re.S))
    assert "ip_hash;" in upstreams["printrelay_sockets"]
    assert "ip_hash;" not in upstreams["printrelay"]
    # ip_hash must come before keepalive (nginx refuses the other order at runtime).
    sockets = upstreams["printrelay_sockets"]
    assert sockets.index("ip_hash;") < sockets.index("keepalive")
    socket_location = re.search(r"location /socket\.io/ \{(.*?)\}", conf, flags=re.S)
    assert socket_location is not None
    assert "proxy_pass http://printrelay_sockets;" in socket_location.group(1)


def test_the_proxy_does_not_publish_metrics() -> None:
    conf = (REPO / "deploy" / "nginx.conf").read_text()
    metrics = re.search(r"location = /metrics \{(.*?)\}", conf, flags=re.S)
    assert metrics is not None and "return 404;" in metrics.group(1)
