"""A throw-away copy of the hub's state, for the dry run of Sync All.

The real steps run over it and write what they write (cursors, orders, stock, what was
sent); none of it reaches the hub:

- SQLite: the database is copied with SQLite's online backup (a read: in WAL mode it
  takes no lock writers wait for) into a private temporary directory in the hub's home,
  and the copy is deleted afterwards. The copy costs disk, not memory.
- PostgreSQL: one connection, one transaction, rolled back at the end; each unit of work
  is a savepoint in it. Rows the dry run updates stay locked until it ends, so a real run
  of the same store waits for the preview (never the other way round: the preview holds
  no lease).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from stockbridge.db.engine import create_hub_engine, session_factory
from stockbridge.db.uow import UnitOfWork

__all__ = ["scratch_copy"]


@contextlib.contextmanager
def scratch_copy(engine: Engine, home: Path) -> Iterator[Callable[[], UnitOfWork]]:
    """Units of work over a copy of the hub's database that is thrown away on exit."""
    if engine.dialect.name == "sqlite":
        with _sqlite_copy(engine, home) as uow:
            yield uow
        return
    with engine.connect() as connection:
        outer = connection.begin()
        sessions = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield lambda: UnitOfWork(sessions)
        finally:
            outer.rollback()


@contextlib.contextmanager
def _sqlite_copy(engine: Engine, home: Path) -> Iterator[Callable[[], UnitOfWork]]:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".preview-", dir=home) as directory:
        os.chmod(directory, 0o700)
        path = Path(directory) / "preview.db"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        source = engine.raw_connection()
        try:
            target = sqlite3.connect(path)
            try:
                live = source.driver_connection
                assert isinstance(live, sqlite3.Connection)
                live.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        copy = create_hub_engine(f"sqlite:///{path}")
        try:
            sessions = session_factory(copy)
            yield lambda: UnitOfWork(sessions)
        finally:
            copy.dispose()
