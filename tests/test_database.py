"""The hub database: migrations, credentials at rest, portability."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.credentials import CredentialCipher, CredentialsUnreadable
from stockbridge.db.migrate import SCHEMA_HEAD, head_revision, is_current
from stockbridge.db.models import Base
from tests.conftest import Harness, make_harness


def test_schema_head_constant_matches_the_migrations() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_migrations_create_exactly_the_models_tables(harness: Harness) -> None:
    tables = set(inspect(harness.hub.engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
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
            taken = [e.dedup_key for e in first.inbox.pending(3)]
            rest = [e.dedup_key for e in second.inbox.pending(10)]
            assert taken == ["e0", "e1", "e2"] and rest == ["e3", "e4"]
            first.inbox.mark_processed([e.id for e in first.inbox.pending(3)])
            first.commit()
    finally:
        harness.hub.engine.dispose()


def test_migrations_build_exactly_the_schema_the_models_declare(harness: Harness) -> None:
    """A column or index added to a model without a migration (or the other way round)
    would only show on a merchant's upgraded database."""
    with harness.hub.engine.connect() as connection:
        context = MigrationContext.configure(connection)
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
