"""When each store syncs by itself: set a schedule (or turn it off) and show the next
run times in the store's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from stockbridge.bootstrap import Hub
from stockbridge.domain.schedule import (
    ALL_STEPS,
    InvalidSchedule,
    ScheduleSpec,
    next_slots,
    parse_holidays,
    parse_step,
)
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.stores import find_store

__all__ = ["ScheduleState", "StoreSchedules", "set_schedule", "show_schedule"]


@dataclass(frozen=True)
class ScheduleState:
    """One schedule: when it fires (store time), whether it is on, and its next slots."""

    step: str  # "all", "stock" or one step
    daily_at: str | None  # HH:MM
    every_minutes: int | None
    enabled: bool
    last_slot_at: datetime | None
    next_runs: tuple[datetime, ...]  # in the store's time zone
    business_days: bool = False  # Monday to Friday, store time, less ``holidays``
    holidays: tuple[str, ...] = ()  # ISO dates


@dataclass(frozen=True)
class StoreSchedules:
    store: str
    timezone: str
    schedules: tuple[ScheduleState, ...]


def set_schedule(
    hub: Hub,
    store_name: str | None,
    *,
    daily_at: str | None = None,
    every_minutes: int | None = None,
    step: str = ALL_STEPS,
    off: bool = False,
    business_days: bool = False,
    holidays: str | None = None,
    now: datetime | None = None,
) -> StoreSchedules:
    """Set when the store runs ``step`` ("all" = Sync All) by itself, or turn that schedule
    off. The timing given replaces the old one (``--every 15`` alone drops a daily time);
    giving a timing turns the schedule on. Slots count from now: changing a schedule never
    fires a slot that passed before the change. ``business_days``: only Monday to Friday
    in the store's time zone, less ``holidays`` (ISO dates, comma-separated). Everything
    is checked before anything is written; bad input raises ``InvalidSetting`` and changes
    nothing.
    """
    now = now or datetime.now(UTC)
    try:
        step = parse_step(step)
        if off and (daily_at is not None or every_minutes is not None or business_days):
            raise InvalidSchedule(
                "--off turns a schedule off: give it without --daily/--every/--business-days"
            )
        if not off and daily_at is None and every_minutes is None:
            raise InvalidSchedule("nothing to set: give --daily HH:MM, --every MINUTES or --off")
    except InvalidSchedule as exc:
        raise InvalidSetting(str(exc)) from None
    with hub.uow() as uow:
        store = find_store(uow, store_name)
        uow.schedules.ensure_default(store, now)
        row = uow.schedules.get(store.id, step)
        if off:
            if row is None:
                raise InvalidSetting(f"store {store.name!r} has no {step} schedule to turn off")
            row.enabled = False
            row.updated_at = now
        else:
            try:
                spec = ScheduleSpec.create(
                    store.timezone,
                    daily_at=daily_at,
                    every_minutes=every_minutes,
                    step=step,
                    business_days=business_days,
                    holidays=holidays,
                )
            except InvalidSchedule as exc:
                raise InvalidSetting(str(exc)) from None
            if row is None:
                uow.schedules.add(
                    store.id,
                    step=step,
                    daily_at=spec.daily_at,
                    every_minutes=spec.every_minutes,
                    enabled=True,
                    last_slot_at=now,
                    now=now,
                    business_days=spec.business_days,
                    holidays=spec.holidays_text,
                )
            elif (
                row.enabled,
                row.daily_at,
                row.every_minutes,
                row.business_days,
                row.holidays,
            ) != (
                True,
                spec.daily_at,
                spec.every_minutes,
                spec.business_days,
                spec.holidays_text,
            ):
                row.daily_at, row.every_minutes = spec.daily_at, spec.every_minutes
                row.business_days, row.holidays = spec.business_days, spec.holidays_text
                row.enabled = True
                row.last_slot_at = now
                row.updated_at = now
        uow.commit()
    return show_schedule(hub, store_name, now=now)


def show_schedule(
    hub: Hub, store_name: str | None, *, count: int = 5, now: datetime | None = None
) -> StoreSchedules:
    """The store's schedules (the default one if it never set any) and, for each one that
    is on, its next ``count`` run times in the store's time zone. Changes nothing."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        store = find_store(uow, store_name)
        uow.schedules.ensure_default(store, now)  # shown, not saved: this uow never commits
        zone = ZoneInfo(store.timezone)
        schedules = []
        for row in uow.schedules.for_store(store.id):
            next_runs: tuple[datetime, ...] = ()
            holidays = parse_holidays(row.holidays)
            if row.enabled and (row.daily_at or row.every_minutes):
                spec = ScheduleSpec(
                    store.timezone,
                    row.daily_at,
                    row.every_minutes,
                    row.step,
                    business_days=row.business_days,
                    holidays=holidays,
                )
                next_runs = tuple(s.astimezone(zone) for s in next_slots(spec, now, count))
            schedules.append(
                ScheduleState(
                    step=row.step,
                    daily_at=row.daily_at,
                    every_minutes=row.every_minutes,
                    enabled=row.enabled,
                    last_slot_at=row.last_slot_at,
                    next_runs=next_runs,
                    business_days=row.business_days,
                    holidays=tuple(d.isoformat() for d in holidays),
                )
            )
        return StoreSchedules(store.name, store.timezone, tuple(schedules))
