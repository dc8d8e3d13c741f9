"""Partner app installs and the partner users they bring (``models.apps``): the storage
side of ``services.app_installs``. The caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockbridge.db.models import (
    AppCallUse,
    AppInstall,
    AppUser,
    AppUserRemoval,
    Connection,
    DashboardSession,
    Schedule,
    Store,
    SyncRun,
    User,
    UserStore,
)

__all__ = ["AppInstallRepository"]


class AppInstallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # installs ------------------------------------------------------------------

    def install(self, kind: str, external_id: str) -> AppInstall | None:
        return self.session.scalar(
            select(AppInstall).where(AppInstall.kind == kind, AppInstall.external_id == external_id)
        )

    def store_connected_to(self, kind: str, setting: str, value: str) -> Store | None:
        """The store whose web connection of ``kind`` has ``settings[setting] == value``
        (a store connected before with an API account), if any."""
        rows = self.session.execute(
            select(Connection.store_id, Connection.settings).where(
                Connection.role == "web", Connection.kind == kind
            )
        ).all()
        for store_id, settings in rows:
            if str((settings or {}).get(setting)) == value:
                return self.session.get(Store, store_id)
        return None

    def web_connection(self, store_id: int, kind: str) -> Connection | None:
        return self.session.scalar(
            select(Connection).where(
                Connection.store_id == store_id, Connection.role == "web", Connection.kind == kind
            )
        )

    # schedules and runs ----------------------------------------------------------

    def pause_schedules(self, store_id: int, now: datetime) -> list[int]:
        """Turn off the store's enabled schedules; returns their ids."""
        ids = list(
            self.session.scalars(
                select(Schedule.id).where(Schedule.store_id == store_id, Schedule.enabled)
            )
        )
        if ids:
            self.session.execute(
                update(Schedule).where(Schedule.id.in_(ids)).values(enabled=False, updated_at=now)
            )
        return ids

    def resume_schedules(self, store_id: int, ids: Sequence[int], now: datetime) -> int:
        if not ids:
            return 0
        result = self.session.execute(
            update(Schedule)
            .where(Schedule.store_id == store_id, Schedule.id.in_(list(ids)))
            .values(enabled=True, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def fail_queued_runs(self, store_id: int, reason: str, now: datetime) -> int:
        """Queued runs of the store that have not started end as failed with ``reason``."""
        result = self.session.execute(
            update(SyncRun)
            .where(SyncRun.store_id == store_id, SyncRun.status == "queued")
            .values(status="failed", error=reason, finished_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # users -------------------------------------------------------------------------

    def app_user(self, kind: str, external_id: str) -> AppUser | None:
        return self.session.scalar(
            select(AppUser).where(AppUser.kind == kind, AppUser.external_id == external_id)
        )

    def add_app_user(
        self, kind: str, external_id: str, email: str, name: str, now: datetime
    ) -> AppUser:
        """A dashboard user with no usable password (``!`` is no Argon2 hash: every
        password check fails) standing for the partner's user."""
        user = User(name=name, password_hash="!", created_at=now, operator=False)
        self.session.add(user)
        self.session.flush()
        row = AppUser(
            kind=kind, external_id=external_id, user_id=user.id, email=email, created_at=now
        )
        self.session.add(row)
        self.session.flush()
        return row

    def name_taken(self, name: str) -> bool:
        return self.session.scalar(select(User.id).where(User.name == name)) is not None

    def grant(self, user_id: int, store_id: int) -> bool:
        """Let the user see the store; False if they could already."""
        if self.session.get(UserStore, (user_id, store_id)) is not None:
            return False
        self.session.add(UserStore(user_id=user_id, store_id=store_id))
        self.session.flush()
        return True

    def revoke(self, user_id: int, store_id: int) -> bool:
        """Take the store away from the user (and end their sessions when no store is
        left to them); False if they had no grant."""
        result = self.session.execute(
            delete(UserStore).where(UserStore.user_id == user_id, UserStore.store_id == store_id)
        )
        if not int(getattr(result, "rowcount", 0) or 0):
            return False
        left = self.session.scalar(select(UserStore.store_id).where(UserStore.user_id == user_id))
        if left is None:
            self.session.execute(
                delete(DashboardSession).where(DashboardSession.user_id == user_id)
            )
        return True

    def app_users_of(self, kind: str, store_id: int) -> list[int]:
        """The dashboard users standing for the partner's users who see the store."""
        return list(
            self.session.scalars(
                select(AppUser.user_id)
                .join(UserStore, UserStore.user_id == AppUser.user_id)
                .where(AppUser.kind == kind, UserStore.store_id == store_id)
            )
        )

    # signed callbacks used once, users removed ---------------------------------

    def use_call(self, kind: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        """Record that the signed callback ``jti`` is acted on; False when it was
        already (a replay, or a parallel use of the same link that got here first).
        Uses past their expiry are dropped: the JWT itself is refused from then on."""
        self.session.execute(delete(AppCallUse).where(AppCallUse.expires_at < now))
        try:  # the primary key decides, also between two parallel uses
            with self.session.begin_nested():
                self.session.add(AppCallUse(kind=kind, jti=jti, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    def user_removed_at(self, kind: str, store: str, user: str) -> datetime | None:
        """When the partner last took the store ``store`` away from ``user``."""
        found = self.session.get(AppUserRemoval, (kind, store, user))
        return found.removed_at if found is not None else None

    def note_user_removed(self, kind: str, store: str, user: str, now: datetime) -> None:
        found = self.session.get(AppUserRemoval, (kind, store, user))
        if found is None:
            self.session.add(
                AppUserRemoval(
                    kind=kind, store_external_id=store, user_external_id=user, removed_at=now
                )
            )
        else:
            found.removed_at = now
