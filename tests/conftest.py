from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Environment, Settings, normalize_database_url
from app.db import migrate
from app.main import create_app
from app.secret_box import KEYS_SETTING, generate_key
from tests import databases
from tests.world import ADMIN_TOKEN, World

# Webhook secrets are stored encrypted: every Settings() of the run, and every server process
# a test starts (they inherit the environment), shares this run's key. Tests of a missing or
# wrong key pass ``encryption_keys`` explicitly.
os.environ.setdefault(KEYS_SETTING, generate_key())


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'printrelay.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def own_postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (no other test's rows), as an
    asyncpg URL."""
    with databases.own_postgres_database() as url:
        migrate.upgrade(url)
        yield normalize_database_url(url)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    databases.require_service("PostgreSQL", databases.postgres_reachable())
    url = databases.create_postgres_database()
    migrate.upgrade(url)
    yield url
    databases.drop_postgres_database(url)


# "postgres-general": PostgreSQL with PRINTRELAY_HOT_PATH off, so the general SQLAlchemy path
# that SQLite uses is held on PostgreSQL too. Modules about submission, claims and reports run
# on all three: ``pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)``.
DIALECTS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ALL_PATHS = [*DIALECTS, pytest.param("postgres-general", marks=pytest.mark.postgres)]


@pytest.fixture(params=DIALECTS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs on both dialects."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def hot_path(request: pytest.FixtureRequest) -> bool:
    callspec = getattr(request.node, "callspec", None)
    return callspec is None or callspec.params.get("database_url") != "postgres-general"


@pytest.fixture
def settings(database_url: str, hot_path: bool) -> Settings:
    return Settings(
        env=Environment.PRODUCTION,
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        redis_url=None,
        hot_path=hot_path,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings, run_sweeper=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://printrelay.test") as c:
        yield c


@pytest.fixture
def world(client: httpx.AsyncClient, app: object) -> World:
    return World(client, app)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def cell_font() -> None:
    """The PNG renderer's font (DejaVu Sans Mono, Debian's fonts-dejavu-core). Locally a test
    that draws text skips without it; with CI=true it must be there (.ci/run installs it)."""
    from bridge_agent.render import RenderError, fonts

    try:
        fonts.cell_font()
    except RenderError as exc:
        databases.require_service(f"a monospace font ({exc})", False)


@pytest.fixture
def script_fonts(cell_font: None) -> None:
    """Fonts for the scripts no code page holds (Debian's fonts-noto-cjk, fonts-noto-core and
    fonts-symbola) and Pillow's raqm layout with FriBidi. Locally a test that draws those scripts
    skips without them; with CI=true they must be there (.ci/run installs them)."""
    from bridge_agent.render import script_fonts

    missing = script_fonts.missing_scripts()
    problem = script_fonts.shaping_problem()
    databases.require_service(
        f"fonts and shaping for other scripts (missing: {missing or '-'}; {problem or 'raqm ok'})",
        not missing and problem is None,
    )
