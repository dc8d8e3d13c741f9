"""Schedules: each store's rows, the default for stores without one, and the atomic claim
of a slot so that two schedulers never queue the same slot twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockbridge.db.models import Schedule, Store
from stockbridge.domain.schedule import ALL_STEPS, DEFAULT_DAILY_AT

__all__ = ["DueCandidate", "ScheduleRepository"]


@dataclass(frozen=True, slots=True)
class DueCandidate:
    """An enabled schedule row as the scheduler read it, with its store's time zone."""

    schedule_id: int
    store_id: int
    timezone: str
    step: str
    daily_at: str | None
    every_minutes: int | None
    last_slot_at: datetime | None
    #: Slots after this moment count when ``last_slot_at`` is None (the row's creation).
    since: datetime
    business_days: bool = False
    holidays: str | None = None


class ScheduleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_store(self, store_id: int) -> Sequence[Schedule]:
        return self.session.scalars(
            select(Schedule).where(Schedule.store_id == store_id).order_by(Schedule.step)
        ).all()

    def get(self, store_id: int, step: str) -> Schedule | None:
        return self.session.scalar(
            select(Schedule).where(Schedule.store_id == store_id, Schedule.step == step)
        )

    def add(
        self,
        store_id: int,
        *,
        step: str,
        daily_at: str | None,
        every_minutes: int | None,
        enabled: bool,
        last_slot_at: datetime,
        now: datetime,
        business_days: bool = False,
        holidays: str | None = None,
    ) -> Schedule:
        row = Schedule(
            store_id=store_id,
            step=step,
            daily_at=daily_at,
            every_minutes=every_minutes,
            business_days=business_days,
            holidays=holidays,
            enabled=enabled,
            last_slot_at=last_slot_at,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def ensure_default(self, store: Store, now: datetime) -> bool:
        """Give ``store`` the default schedule (Sync All daily at 01:00 store time) if it has
        no schedule row at all. Slots count from the store's creation, so a store added
        while the scheduler was down still gets its first daily run. Returns whether a row
        was added; a row another process added meanwhile is left alone (savepoint).
        """
        if self.session.scalar(select(exists().where(Schedule.store_id == store.id))):
            return False
        try:
            with self.session.begin_nested():
                self.add(
                    store.id,
                    step=ALL_STEPS,
                    daily_at=DEFAULT_DAILY_AT,
                    every_minutes=None,
                    enabled=True,
                    last_slot_at=min(store.created_at, now),
                    now=now,
                )
        except IntegrityError:
            return False
        return True

    def stores_without_schedule(self) -> Sequence[Store]:
        return self.session.scalars(
            select(Store).where(~exists().where(Schedule.store_id == Store.id)).order_by(Store.id)
        ).all()

    def enabled(self) -> list[DueCandidate]:
        rows = self.session.execute(
            select(Schedule, Store.timezone)
            .join(Store, Store.id == Schedule.store_id)
            .where(Schedule.enabled.is_(True))
            .order_by(Schedule.id)
        ).all()
        return [
            DueCandidate(
                schedule_id=row.id,
                store_id=row.store_id,
                timezone=timezone,
                step=row.step,
                daily_at=row.daily_at,
                every_minutes=row.every_minutes,
                last_slot_at=row.last_slot_at,
                since=row.last_slot_at or row.updated_at,
                business_days=row.business_days,
                holidays=row.holidays,
            )
            for row, timezone in rows
        ]

    def claim_slot(self, schedule_id: int, seen: datetime | None, slot: datetime) -> bool:
        """Move the row's ``last_slot_at`` from ``seen`` (what the caller read) to ``slot``.
        True for exactly one caller per slot: a concurrent scheduler that read the same
        value finds it changed (PostgreSQL re-checks the WHERE after the row lock; SQLite
        serialises writers) and gets False. Commit before queueing the run.
        """
        result = self.session.execute(
            update(Schedule)
            .where(
                Schedule.id == schedule_id,
                Schedule.enabled.is_(True),
                Schedule.last_slot_at.is_not_distinct_from(seen),
            )
            .values(last_slot_at=slot)
        )
        return isinstance(result, CursorResult) and result.rowcount == 1

    def release_slot(self, schedule_id: int, slot: datetime, previous: datetime | None) -> None:
        """Undo ``claim_slot`` when the run could not be queued (only if nothing moved on)."""
        self.session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id, Schedule.last_slot_at == slot)
            .values(last_slot_at=previous)
        )
