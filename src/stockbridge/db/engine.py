"""Creating the database engine: SQLite in WAL mode, or PostgreSQL through psycopg 3."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["READ_ONLY", "create_hub_engine", "exclusive", "session_factory", "sqlite_files"]

#: Execution option for a transaction that only reads: on SQLite it does not take the
#: write lock at BEGIN, so a long read (a million-row diff) never stalls webhooks.
READ_ONLY = "stockbridge_read_only"


def sqlite_files(url: str) -> list[Path]:
    """The files of a SQLite database on disk: the database, its WAL and its shared
    memory file (which may not exist yet). None for another database or one in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return []
    if parsed.database.startswith("file:") or parsed.query.get("mode") == "memory":
        return []
    database = Path(parsed.database)
    return [
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ]


def _create_private(path: Path) -> None:
    """Create an empty database file readable by this user only, before SQLite would
    create it 0644. SQLite gives the WAL and SHM files it creates later the database
    file's permissions, so they are private too."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def create_hub_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys, a busy timeout and write
    transactions that take the write lock at BEGIN, so concurrent writers queue instead
    of failing with "database is locked" halfway through; a new database file (and so
    its WAL and SHM files) is readable by this user only.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    files = sqlite_files(url)
    if files and files[0].parent.is_dir():
        _create_private(files[0])

    engine = create_engine(parsed, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")  # a long read leaves writers be
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Whether this process is the one to do ``name``'s work now (say, sending alerts).

    PostgreSQL: a session advisory lock, held by at most one connection across every
    process and machine sharing the database (and schema), until the block ends (or the
    holder's connection drops). Elsewhere (SQLite: one process) always True. Never waits.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        # Advisory locks are the database's, not the schema's: two hubs in two schemas of
        # one database (tests in parallel, a shared server) each have their own lock.
        schema = str(connection.scalar(text("SELECT current_schema()")))
        digest = hashlib.sha256(f"{schema}:{name}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
