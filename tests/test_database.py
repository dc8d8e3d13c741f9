"""The hub database: migrations, credentials at rest, portability."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from stockbridge import accounts
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.credentials import CredentialCipher, CredentialsUnreadable
from stockbridge.db.inbox import MAX_INSERT_ROWS, InboxAppender
from stockbridge.db.migrate import SCHEMA_HEAD, alembic_config, head_revision, is_current
from stockbridge.db.models import Base
from stockbridge.db.quota import LEDGER_TABLES
from tests.conftest import Harness, make_harness


def test_schema_head_constant_matches_the_migrations() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_migrations_create_exactly_the_models_tables(harness: Harness) -> None:
    tables = set(inspect(harness.hub.engine).get_table_names()) - {"alembic_version"}
    # PostgreSQL only, outside the models: scaled mode's job queue and the quota ledger.
    scaled = {t for t in tables if t.startswith("procrastinate_") or t in LEDGER_TABLES}
    if harness.hub.engine.dialect.name == "postgresql":
        assert scaled >= {"procrastinate_jobs", *LEDGER_TABLES}
    else:
        assert not scaled
    assert tables - scaled == set(Base.metadata.tables)
    assert is_current(harness.hub.engine)
    harness.hub.initialise()  # running again changes nothing
    assert is_current(harness.hub.engine)


def test_fresh_database_is_not_current(tmp_path: Path) -> None:
    hub = bootstrap(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/x.db"))
    assert not is_current(hub.engine)


def test_sqlite_runs_in_wal_mode(sqlite_harness: Harness) -> None:
    with sqlite_harness.hub.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_credentials_are_encrypted_at_rest_with_a_private_key(tmp_path: Path) -> None:
    key = tmp_path / "home" / "credentials.key"
    cipher = CredentialCipher.from_key_file(key)
    assert key.stat().st_mode & 0o777 == 0o600
    blob = cipher.encrypt({"access_token": "s3cret-token"})
    assert b"s3cret-token" not in blob
    assert CredentialCipher.from_key_file(key).decrypt(blob) == {"access_token": "s3cret-token"}
    other = CredentialCipher.from_key_file(tmp_path / "other.key")
    with pytest.raises(CredentialsUnreadable, match="connect the partner again"):
        other.decrypt(blob)


def test_connection_credentials_round_trip_through_the_hub(harness: Harness) -> None:
    hub = harness.hub
    store_id = harness.add_store()
    with hub.uow() as uow:
        uow.stores.connect(
            store_id,
            role="web",
            kind="fake-web",
            settings={"store_hash": "abc"},
            credentials=hub.cipher.encrypt({"token": "t0ken"}),
        )
        uow.commit()
    with hub.uow() as uow:
        connection = uow.stores.connection(store_id, "web")
        assert connection is not None and connection.credentials is not None
        assert b"t0ken" not in connection.credentials
        assert hub.cipher.decrypt(connection.credentials) == {"token": "t0ken"}


def test_inbox_batches_store_each_event_once(harness: Harness) -> None:
    store_id = harness.add_store()
    events = [
        {
            "store_id": store_id,
            "source": "bigcommerce",
            "dedup_key": key,
            "kind": "order",
            "payload": {"resource_id": key},
        }
        for key in ("a", "b", "a", "c")
    ]
    with harness.hub.uow() as uow:
        assert uow.inbox.add_many(events[:2]) == [True, True]
        uow.commit()
    with harness.hub.uow() as uow:
        assert uow.inbox.add_many(events) == [False, False, False, True]
        uow.commit()
        pending = uow.inbox.pending()
        assert [e.dedup_key for e in pending] == ["a", "b", "c"]
        assert pending[0].payload == {"resource_id": "a"}
        assert [(kind, n) for n, (_id, _store, kind) in enumerate(uow.inbox.pending_refs(2))] == [
            ("order", 0),
            ("order", 1),
        ]


@pytest.mark.postgres
def test_two_workers_drain_the_inbox_without_taking_the_same_event(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL: a worker's pending events are locked; another worker skips them."""
    harness = make_harness(tmp_path, postgres_url)
    try:
        store_id = harness.add_store()
        with harness.hub.uow() as uow:
            uow.inbox.add_many(
                [
                    {
                        "store_id": store_id,
                        "source": "bigcommerce",
                        "dedup_key": f"e{i}",
                        "kind": "order",
                        "payload": {},
                    }
                    for i in range(5)
                ]
            )
            uow.commit()
        with harness.hub.uow() as first, harness.hub.uow() as second:
            taken = [event_id for event_id, _store, _kind in first.inbox.pending_refs(3)]
            rest = [event_id for event_id, _store, _kind in second.inbox.pending_refs(10)]
            assert len(taken) == 3 and len(rest) == 2 and not set(taken) & set(rest)
            assert taken < rest  # the oldest went to the first worker
            first.inbox.mark_processed(taken)
            first.commit()
    finally:
        harness.hub.engine.dispose()


def test_migrations_build_exactly_the_schema_the_models_declare(harness: Harness) -> None:
    """A column or index added to a model without a migration (or the other way round)
    would only show on a merchant's upgraded database."""

    def ours(name: str | None, type_: str, _parents: object) -> bool:
        """Scaled mode's tables (procrastinate's, the quota ledger) have no models."""
        return not (
            type_ == "table"
            and name is not None
            and (name.startswith("procrastinate_") or name in LEDGER_TABLES)
        )

    with harness.hub.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_read_only_unit_of_work_leaves_sqlite_writers_be(sqlite_harness: Harness) -> None:
    """Every unit of work takes SQLite's write lock at BEGIN (writers queue rather than
    fail halfway), except one marked read-only: a long read must not stall webhooks."""
    path = sqlite_harness.hub.engine.url.database
    assert path is not None

    def others_can_write() -> bool:
        probe = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            probe.close()

    with sqlite_harness.hub.uow() as uow:
        uow.stores.all()
        assert not others_can_write()
    with sqlite_harness.hub.uow() as uow:
        uow.read_only().stores.all()
        assert others_can_write()


def _event(store_id: int, key: str) -> dict[str, object]:
    return {
        "store_id": store_id,
        "source": "bigcommerce",
        "dedup_key": key,
        "kind": "order",
        "payload": {"resource_id": key},
    }


def _stored_keys(harness: Harness) -> list[str]:
    with harness.hub.uow() as uow:
        return sorted(e.dedup_key for e in uow.inbox.pending(10_000))


def test_the_appender_commits_each_batch_and_answers_duplicates(harness: Harness) -> None:
    store_id = harness.add_store()
    appender = InboxAppender(harness.hub.engine)
    try:
        assert appender.append([_event(store_id, k) for k in ("a", "b", "a")]) == [
            True,
            True,
            False,  # earlier in the same batch
        ]
        assert appender.append([_event(store_id, k) for k in ("b", "c", "c")]) == [
            False,  # already stored by the batch before
            True,
            False,
        ]
        assert appender.append([]) == []
        full = [_event(store_id, f"full-{n}") for n in range(MAX_INSERT_ROWS)]
        assert appender.append(full) == [True] * MAX_INSERT_ROWS
    finally:
        appender.close()
    keys = _stored_keys(harness)
    assert len(keys) == 3 + MAX_INSERT_ROWS and keys[:3] == ["a", "b", "c"]


def test_a_failed_batch_stores_nothing_and_the_appender_recovers(harness: Harness) -> None:
    store_id = harness.add_store()
    appender = InboxAppender(harness.hub.engine)
    try:
        with pytest.raises(ValueError, match="at most"):
            appender.append([_event(store_id, f"x-{n}") for n in range(MAX_INSERT_ROWS + 1)])
        with pytest.raises(IntegrityError):  # no such store: the whole batch is refused
            appender.append([_event(store_id, "ok-1"), _event(store_id + 999, "orphan")])
        assert _stored_keys(harness) == []
        assert appender.append([_event(store_id, "ok-1")]) == [True]  # a new connection
    finally:
        appender.close()
    assert _stored_keys(harness) == ["ok-1"]


def test_users_from_before_store_grants_become_operators(harness: Harness) -> None:
    """Revision 0007 gives dashboard users store grants; the users already there saw
    every store, so the upgrade makes them operators rather than lock them out."""
    engine = harness.hub.engine
    command.downgrade(alembic_config(engine), "0006")
    assert "user_stores" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, password_hash, created_at) "
                "VALUES ('old', :hash, CURRENT_TIMESTAMP)"
            ),
            {"hash": accounts._hasher.hash("an old password")},
        )
    command.upgrade(alembic_config(engine), "head")
    assert is_current(engine)
    session_id, csrf = accounts.log_in(harness.hub, "old", "an old password", "10.0.0.1")
    info = accounts.session_info(harness.hub, session_id)
    assert info == accounts.SessionInfo("old", csrf, operator=True)


def test_pages_and_listings_read_while_another_writer_holds_sqlite(
    sqlite_harness: Harness,
) -> None:
    """The dashboard polls progress every second and lists runs and stock: those reads
    must not queue behind a long write (a feed being applied, a burst of webhooks)."""
    from stockbridge import services

    hub = sqlite_harness.hub
    store_id = sqlite_harness.add_store("shop")
    path = hub.engine.url.database
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is mid-write
    answers: list[object] = []

    def read_everything() -> None:
        answers.append(services.list_stores(hub))
        answers.append(services.describe_store(hub, "shop"))
        answers.append(services.store_status(hub, "shop"))
        answers.append(services.run_history(hub, "shop"))
        answers.append(services.rejected_inputs(hub, store_id))
        answers.append(services.search_inventory(hub, "shop", ""))

    reader = threading.Thread(target=read_everything, daemon=True)
    try:
        reader.start()
        reader.join(timeout=20)
        assert not reader.is_alive() and len(answers) == 6
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join(timeout=70)


def test_stores_from_before_0011_keep_their_sync_all_button_and_new_ones_hide_it(
    harness: Harness,
) -> None:
    """Revision 0011 turns Sync All off for new stores only: a store already there keeps
    the button it had, and its back office (with its cursors: on SQLite the table is
    rebuilt, and nothing that refers to it may go) stays its primary back office."""
    from stockbridge import services

    engine = harness.hub.engine
    command.downgrade(alembic_config(engine), "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO stores (name, timezone, inventory_source, sync_all_button, "
                "options, created_at) VALUES ('old', 'UTC', 'back_office', :on, '{}', "
                "CURRENT_TIMESTAMP)"
            ),
            {"on": True},
        )
        connection.execute(
            text(
                "INSERT INTO connections (store_id, role, kind, settings, health, created_at) "
                "SELECT id, 'back_office', 'feed', '{}', 'connected', CURRENT_TIMESTAMP "
                "FROM stores WHERE name = 'old'"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cursors (connection_id, stream, position, updated_at) "
                "SELECT id, 'items', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM connections"
            )
        )
    command.upgrade(alembic_config(engine), "head")
    assert is_current(engine)

    services.add_store(harness.hub, "new")
    assert services.describe_store(harness.hub, "old").sync_all_button is True
    assert services.describe_store(harness.hub, "new").sync_all_button is False
    old = services.resolve_store(harness.hub, "old")
    with harness.hub.uow() as uow:
        primary = uow.stores.connection(old, "back_office")
        assert primary is not None and primary.name == "" and primary.owns is None
        assert uow.stores.cursor(primary.id, "items") is not None
