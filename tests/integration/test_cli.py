"""`printrelay serve` as a user runs it: a real process, migrating, then answering /healthz."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx

from tests.servers import running_server
from tests.world import ADMIN


def test_serve_migrates_a_new_sqlite_file_and_serves(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    with running_server(f"sqlite:///{db}", cwd=tmp_path) as base_url:
        assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
        r = httpx.post(f"{base_url}/v1/tenants", json={"name": "cli"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        docs = httpx.get(f"{base_url}/openapi.json").json()
        assert "ErrorBody" in docs["components"]["schemas"]
    assert db.is_file()


def test_default_database_is_a_sqlite_file_in_the_working_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    out = subprocess.run(
        [sys.executable, "-c", "from app.config import Settings; print(Settings().database_url)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"sqlite:///{tmp_path / 'printrelay.db'}"


def test_production_refuses_to_start_without_a_real_admin_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    for token in (None, "changeme", "short"):
        run_env = {**env, "PRINTRELAY_ENV": "production"}
        if token is not None:
            run_env["PRINTRELAY_ADMIN_TOKEN"] = token
        proc = subprocess.run(
            [sys.executable, "-m", "app.cli", "serve", "--port", "1"],
            cwd=tmp_path,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 2, proc.stderr
        assert "PRINTRELAY_ADMIN_TOKEN" in proc.stderr
    assert not (tmp_path / "printrelay.db").exists()  # refused before touching the database


def test_development_server_makes_an_owner_only_admin_token(tmp_path: Path) -> None:
    from app.cli import development_admin_token

    token = development_admin_token(tmp_path / ".printrelay")
    path = tmp_path / ".printrelay" / "admin-token"
    assert len(token) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert development_admin_token(tmp_path / ".printrelay") == token  # stable across restarts


def test_wheel_carries_both_commands_the_migrations_and_the_web_files(
    tmp_path: Path, repo_root: Path
) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(repo_root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("printrelay-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = zf.read(entry_points).decode()
    assert "app/_migrations/env.py" in names
    assert any(n.startswith("app/_migrations/versions/") and n.endswith(".py") for n in names)
    assert "printrelay = app.cli:main" in scripts
    assert "printrelay-bridge = bridge_agent.cli:main" in scripts
    # The pages, the SDK and the vendored browser files, with their record and licences.
    web = repo_root / "app" / "web" / "static"
    shipped = {f"app/web/static/{p.relative_to(web)}" for p in web.rglob("*") if p.is_file()}
    assert "app/web/static/vendor/socket.io-client/LICENSE" in shipped
    assert "app/web/static/sdk/printrelay.js" in shipped
    assert shipped <= names


def test_more_than_one_worker_needs_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_ENV="development")
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "PRINTRELAY_REDIS_URL" in proc.stderr
