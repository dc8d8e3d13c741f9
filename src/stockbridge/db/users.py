"""Dashboard users, their browser sessions and the login throttle."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stockbridge.db.models import DashboardSession, LoginThrottle, User
from stockbridge.db.upsert import upsert

__all__ = ["UserRepository"]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, password_hash: str, now: datetime) -> User:
        user = User(name=name, password_hash=password_hash, created_at=now)
        self.session.add(user)
        self.session.flush()
        return user

    def by_name(self, name: str) -> User | None:
        return self.session.scalar(select(User).where(User.name == name))

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    # sessions ----------------------------------------------------------------

    def open_session(self, user_id: int, now: datetime, lifetime: timedelta) -> tuple[str, str]:
        """A new session: returns (session id for the cookie, CSRF token). Only the id's
        hash is stored, so a copy of the database logs nobody in."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        self.session.add(
            DashboardSession(
                id_hash=_hash(session_id),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return session_id, csrf

    def find_session(self, session_id: str, now: datetime) -> DashboardSession | None:
        """The session, if it exists and has not expired."""
        row = self.session.get(DashboardSession, _hash(session_id))
        if row is None or row.expires_at <= now:
            return None
        return row

    def close_session(self, session_id: str) -> None:
        self.session.execute(
            delete(DashboardSession).where(DashboardSession.id_hash == _hash(session_id))
        )

    def purge_expired_sessions(self, now: datetime) -> None:
        self.session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))

    # login throttle ------------------------------------------------------------

    def throttle(self, key: str) -> LoginThrottle | None:
        return self.session.get(LoginThrottle, key)

    def record_failure(self, key: str, now: datetime, window: timedelta) -> int:
        """Count a failed login; failures older than ``window`` are forgotten first.
        Returns the failures now counted."""
        # Two first failures at once must not collide: create the row if missing, then
        # count under its row lock.
        upsert(
            self.session,
            LoginThrottle.__table__,  # type: ignore[arg-type]
            [{"key": key, "failures": 0, "last_failed_at": now}],
            keys=["key"],
            update=[],
        )
        row = self.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        if now - row.last_failed_at > window:
            row.failures = 0
        row.failures += 1
        row.last_failed_at = now
        self.session.flush()
        return row.failures

    def forget_old_failures(self, before: datetime) -> None:
        """Drop counts whose last failure is older than ``before`` (they no longer block)."""
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failed_at < before))

    def clear_failures(self, key: str) -> None:
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
