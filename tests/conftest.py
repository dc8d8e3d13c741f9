"""Shared fixtures: a hub on SQLite (always) and on PostgreSQL (when reachable), wired to
in-memory partners."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.domain.model import InventorySource
from stockbridge.retry import RetryPolicy
from stockbridge.sandbox_server import ServerThread
from stockbridge.sync.context import Partners
from tests.bc_helpers import SandboxStore, new_store
from tests.cycle_harness import Cycle, DbCycle, MemoryCycle
from tests.template_db import placeholder, postgres_schema_sql, sqlite_copy
from tests.tiers import guard_unit, mark_tiers

# HYPOTHESIS_PROFILE=deep for a long search before a release; CI uses the default.
settings.register_profile("deep", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

POSTGRES_URL = os.environ.get(
    "STOCKBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_pg_state: dict[str, str | None] = {}


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers; otherwise why not (checked once per session)."""
    if "reason" not in _pg_state:
        try:
            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except (SQLAlchemyError, ImportError, OSError) as exc:
            _pg_state["reason"] = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}".splitlines()[
                0
            ]
    return _pg_state["reason"]


def pytest_report_header(config: pytest.Config) -> str:
    reason = postgres_unavailable()
    if reason:
        return f"PostgreSQL suite: SKIPPED ({reason})"
    return f"PostgreSQL suite: running against {POSTGRES_URL}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tiers(items)  # unit / integration / process / browser: tests/tiers.py


@pytest.fixture(autouse=True)
def _unit_starts_nothing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    yield from guard_unit(request, monkeypatch)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = postgres_unavailable()
    if reason:
        terminalreporter.write_line(
            f"NOTE: the PostgreSQL suite was skipped: {reason}", yellow=True
        )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"sb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = quote(f"-csearch_path={schema}")
    yield f"{POSTGRES_URL}?options={options}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def migrated_postgres_url(postgres_url: str) -> str:
    """``postgres_url``'s fresh schema, made at the migrations' head from the session's
    template (tests/template_db.py) instead of by running every migration."""
    sql = postgres_schema_sql(POSTGRES_URL)
    if sql is not None:
        schema = postgres_url.rsplit("search_path%3D", 1)[1]
        engine = create_engine(POSTGRES_URL)
        try:
            connection = engine.raw_connection()
            try:
                connection.cursor().execute(sql.replace(placeholder(), schema))
                connection.commit()
            finally:
                connection.close()
        finally:
            engine.dispose()
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated hub database: a copy of the session's SQLite template, or a PostgreSQL
    schema made from its template (tests/template_db.py)."""
    if request.param == "sqlite":
        return sqlite_copy(tmp_path / "hub.db")
    return str(request.getfixturevalue("migrated_postgres_url"))


NO_WAIT = RetryPolicy(attempts=3, base_delay=0, sleep=lambda _s: None)


@dataclass
class Harness:
    """A hub whose stores talk to in-memory partners."""

    hub: Hub
    partners: dict[int, Partners] = field(default_factory=dict)

    def add_store(
        self,
        name: str = "shop",
        *,
        source: InventorySource = InventorySource.BACK_OFFICE,
        web: WebStore | None = None,
        back_office: BackOffice | None = None,
    ) -> int:
        with self.hub.uow() as uow:
            store = uow.stores.add(name, timezone="UTC", inventory_source=source, erp_name=None)
            web_id = bo_id = None
            if web is not None:
                web_id = uow.stores.connect(
                    store.id, role="web", kind="fake-web", settings={}, credentials=None
                ).id
            if back_office is not None:
                bo_id = uow.stores.connect(
                    store.id, role="back_office", kind="fake-bo", settings={}, credentials=None
                ).id
            uow.commit()
            self.partners[store.id] = Partners(web, web_id, back_office, bo_id)
            return store.id


def make_harness(tmp_path: Path, database_url: str) -> Harness:
    harness = Harness(hub=None)  # type: ignore[arg-type]
    hub = bootstrap(
        # The partners and receivers of tests run on 127.0.0.1: allowed explicitly.
        Settings(
            home=tmp_path / "home",
            database_url=database_url,
            lease_seconds=30,
            outbound_allow="loopback",
            # An SMTP server is configured, so stores may take an alert email (a hub
            # without one refuses it); the alert tests bring their own server.
            smtp_host="127.0.0.1",
        ),
        retry=NO_WAIT,
        # A store the test did not wire (one made through the API) has no partners, as a
        # store without connections has in a real hub.
        partners_override=lambda store_id: harness.partners.get(store_id, Partners()),
    )
    hub.initialise()
    harness.hub = hub
    return harness


@pytest.fixture
def harness(tmp_path: Path, database_url: str) -> Iterator[Harness]:
    h = make_harness(tmp_path, database_url)
    yield h
    h.hub.engine.dispose()


@pytest.fixture
def sqlite_harness(tmp_path: Path) -> Iterator[Harness]:
    h = make_harness(tmp_path, sqlite_copy(tmp_path / "hub.db"))
    yield h
    h.hub.engine.dispose()


#: ``@BOTH_BACKENDS`` on a test that uses ``backend`` runs it on both job back ends.
BOTH_BACKENDS = pytest.mark.parametrize(
    "backend", ["embedded", pytest.param("scaled", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """How jobs run: ``embedded`` (SQLite, in-process worker; the default) or ``scaled``
    (PostgreSQL, procrastinate), chosen with ``BOTH_BACKENDS``."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def service_harness(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[Harness]:
    """A harness on the back end's database: SQLite for embedded, PostgreSQL for scaled."""
    if backend == "scaled":
        url = str(request.getfixturevalue("migrated_postgres_url"))
    else:
        url = sqlite_copy(tmp_path / "hub.db")
    h = make_harness(tmp_path, url)
    yield h
    h.hub.engine.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cycle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cycle]:
    """The runner over the in-memory unit of work, SQLite or PostgreSQL."""
    if request.param == "memory":
        yield MemoryCycle(NO_WAIT)
        return
    if request.param == "sqlite":
        url = sqlite_copy(tmp_path / "hub.db")
    else:
        url = str(request.getfixturevalue("migrated_postgres_url"))
    h = make_harness(tmp_path, url)
    yield DbCycle(h)
    h.hub.engine.dispose()


@pytest.fixture(scope="session")
def bc_sandbox() -> Iterator[tuple[BigCommerceSandbox, ServerThread]]:
    """One BigCommerce sandbox on loopback for the session; tests take a store each."""
    sandbox = BigCommerceSandbox(time_scale=0.0005)
    server = ServerThread(sandbox.app).start()
    yield sandbox, server
    server.stop()
    sandbox.close()


@pytest.fixture
def bc_store(bc_sandbox: tuple[BigCommerceSandbox, ServerThread]) -> SandboxStore:
    return new_store(*bc_sandbox)
