"""Dashboard users, the stores each may see, their browser sessions and the login
throttle."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from stockbridge.db.models import DashboardSession, LoginThrottle, Store, User, UserStore
from stockbridge.db.upsert import upsert

__all__ = ["UserRepository"]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        name: str,
        password_hash: str,
        now: datetime,
        *,
        operator: bool = False,
        store_ids: Iterable[int] = (),
    ) -> User:
        """A new user: an operator (every store), or one who sees only ``store_ids``."""
        user = User(name=name, password_hash=password_hash, created_at=now, operator=operator)
        self.session.add(user)
        self.session.flush()
        self.session.add_all(UserStore(user_id=user.id, store_id=s) for s in set(store_ids))
        self.session.flush()
        return user

    def store_names(self, user_id: int) -> Sequence[str]:
        """The names of the stores granted to a (non-operator) user, in name order."""
        return self.session.scalars(
            select(Store.name)
            .join(UserStore, UserStore.store_id == Store.id)
            .where(UserStore.user_id == user_id)
            .order_by(Store.name)
        ).all()

    def all(self) -> Sequence[User]:
        return self.session.scalars(select(User).order_by(User.name)).all()

    def set_grants(self, user_id: int, *, operator: bool, store_ids: Iterable[int]) -> None:
        """Replace what the user sees: every store (``operator``) or ``store_ids``."""
        user = self.session.get(User, user_id)
        if user is None:
            return
        user.operator = operator
        self.session.execute(delete(UserStore).where(UserStore.user_id == user_id))
        if not operator:
            self.session.add_all(UserStore(user_id=user_id, store_id=s) for s in set(store_ids))
        self.session.flush()

    def remove(self, user_id: int) -> None:
        self.session.execute(delete(UserStore).where(UserStore.user_id == user_id))
        self.session.execute(delete(User).where(User.id == user_id))

    def live_sessions(self, user_id: int, now: datetime) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(DashboardSession)
                .where(DashboardSession.user_id == user_id, DashboardSession.expires_at > now)
            )
            or 0
        )

    def close_sessions_of(self, user_id: int) -> None:
        self.session.execute(delete(DashboardSession).where(DashboardSession.user_id == user_id))

    def by_name(self, name: str) -> User | None:
        return self.session.scalar(select(User).where(User.name == name))

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    # sessions ----------------------------------------------------------------

    def open_session(
        self,
        user_id: int,
        now: datetime,
        lifetime: timedelta,
        *,
        frame_ancestors: str | None = None,
    ) -> tuple[str, str]:
        """A new session: returns (session id for the cookie, CSRF token). Only the id's
        hash is stored, so a copy of the database logs nobody in. ``frame_ancestors``:
        the origins allowed to frame the session's pages (a partner's app load)."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        self.session.add(
            DashboardSession(
                id_hash=_hash(session_id),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lifetime,
                frame_ancestors=frame_ancestors,
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

    def reserve_attempt(
        self, key: str, now: datetime, window: timedelta, limit: int
    ) -> timedelta | None:
        """Count a login attempt as a failure *before* its password is checked (a success
        clears the count afterwards), so parallel guesses cannot all pass the check.

        Returns the time left to wait if ``limit`` failures within ``window`` are counted
        already (the attempt is then not counted), else None. The row stays locked until
        the transaction ends: concurrent attempts for ``key`` count one after another."""
        # Two first attempts at once must not collide: create the row if missing, then
        # count under its row lock. The conflict clause's no-op update (key = key) takes
        # that lock at once, so another login's sweep of stale rows skips this row rather
        # than deleting it before it is read.
        upsert(
            self.session,
            LoginThrottle.__table__,  # type: ignore[arg-type]
            [{"key": key, "failures": 0, "last_failed_at": now}],
            keys=["key"],
            update=["key"],
        )
        row = self.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        wait = row.last_failed_at + window - now
        if wait <= timedelta(0):
            row.failures = 0  # the last failure is out of the window: forgotten
        elif row.failures >= limit:
            return wait
        row.failures += 1
        row.last_failed_at = now
        self.session.flush()
        return None

    def reserve_delayed_attempt(
        self, key: str, now: datetime, window: timedelta, free: int, max_delay: timedelta
    ) -> timedelta | None:
        """Like ``reserve_attempt`` without a hard limit: once ``free`` failures are
        counted within ``window``, each further attempt waits 2^(failures - free) seconds
        (at most ``max_delay``) after the last failure. Returns the time left to wait (the
        attempt is then not counted), else None."""
        upsert(
            self.session,
            LoginThrottle.__table__,  # type: ignore[arg-type]
            [{"key": key, "failures": 0, "last_failed_at": now}],
            keys=["key"],
            update=["key"],
        )
        row = self.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        if row.last_failed_at + window <= now:
            row.failures = 0
        elif row.failures >= free:
            delay = min(timedelta(seconds=2 ** min(row.failures - free, 30)), max_delay)
            wait = row.last_failed_at + delay - now
            if wait > timedelta(0):
                return wait
        row.failures += 1
        row.last_failed_at = now
        self.session.flush()
        return None

    def undo_attempt(self, key: str) -> None:
        """Take back one counted attempt (it succeeded); a count of none is removed."""
        row = self.session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            return
        if row.failures <= 1:
            self.session.delete(row)
        else:
            row.failures -= 1
        self.session.flush()

    def forget_old_failures(self, before: datetime, *, keep: Collection[str]) -> None:
        """Drop counts whose last failure is older than ``before`` (they no longer block),
        except ``keep``'s. Rows another login holds locked are left for a later sweep, so
        two sweeps never wait on each other."""
        stale = (
            select(LoginThrottle.key)
            .where(LoginThrottle.last_failed_at < before, LoginThrottle.key.not_in(list(keep)))
            .with_for_update(skip_locked=True)
        )
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale)))

    def clear_failures(self, key: str) -> None:
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
