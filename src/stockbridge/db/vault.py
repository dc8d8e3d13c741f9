"""A connection's secrets in the hub database, encrypted, updated under a row lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from stockbridge.credentials import CredentialCipher
from stockbridge.db.models import Connection

__all__ = ["DbCredentialVault"]


class DbCredentialVault:
    """``update()`` locks the connection row (SQLite: the write lock taken at BEGIN;
    PostgreSQL: ``SELECT ... FOR UPDATE``), so two processes never rotate a secret at once;
    the second sees the first one's result.
    """

    def __init__(
        self, sessions: sessionmaker[Session], cipher: CredentialCipher, connection_id: int
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.connection_id = connection_id

    def load(self) -> dict[str, str]:
        with self.sessions() as session:
            blob = session.scalar(
                select(Connection.credentials).where(Connection.id == self.connection_id)
            )
        return self.cipher.decrypt(blob) if blob else {}

    @contextmanager
    def update(self) -> Iterator[dict[str, str]]:
        with self.sessions() as session, session.begin():
            row = session.scalar(
                select(Connection).where(Connection.id == self.connection_id).with_for_update()
            )
            if row is None:
                raise LookupError(f"connection {self.connection_id} no longer exists")
            current = self.cipher.decrypt(row.credentials) if row.credentials else {}
            yield current
            row.credentials = self.cipher.encrypt(current)
