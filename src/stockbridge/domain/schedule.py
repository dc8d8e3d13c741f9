"""When a store's sync runs by itself. Pure: standard library only, no I/O, no clock.

A schedule is a daily wall-clock time in the store's IANA time zone and/or an interval of
N minutes, for Sync All or one step. Its *slots* are the moments it is due, as UTC-aware
datetimes:

- daily "HH:MM": once per local calendar day at that wall-clock time. On a spring-forward
  day whose HH:MM does not exist (it falls in the gap) the slot is the first instant after
  it that exists, the moment the clocks jump. On a fall-back day whose HH:MM happens
  twice, the slot is the first occurrence only (one run, not two).
- every N minutes: every N elapsed minutes, on the multiples of N minutes since the Unix
  epoch (so every 15 falls on :00, :15, :30, :45 in any zone with a whole-hour offset).
  Elapsed time does not care about daylight saving: the gap between two slots is always
  N minutes.

Both set: the union of both series (a moment in both counts once).

Business days only (``business_days``): a slot counts only when the store's local
calendar date at that moment is Monday to Friday and not one of ``holidays`` (local
dates). A daily slot on a Friday is followed by Monday's; interval slots stop at the
weekend's local midnight and start again at Monday's. Daylight saving works as above.

``due_slot`` gives the one slot to run now: the latest slot after the last handled one
and not after ``now``. However many slots were missed while the server was down, the
answer is one slot, never a backlog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stockbridge.domain.model import SYNC_ALL, Step

__all__ = [
    "ALL_STEPS",
    "DEFAULT_DAILY_AT",
    "MAX_EVERY_MINUTES",
    "STOCK_STEPS",
    "InvalidSchedule",
    "ScheduleSpec",
    "due_slot",
    "next_slots",
    "parse_daily_at",
    "parse_every_minutes",
    "parse_holidays",
    "parse_step",
]

#: ``step`` value meaning Sync All.
ALL_STEPS = "all"
#: Stock only: inventory-in then inventory-out (a feed pulled and its changes pushed).
STOCK_STEPS = "stock"
#: A store without a schedule of its own syncs everything daily at this local time.
DEFAULT_DAILY_AT = "01:00"
#: Longer intervals are a daily schedule's job.
MAX_EVERY_MINUTES = 24 * 60
#: Business days: Monday (0) to Friday (4).
WORKDAYS = frozenset(range(5))
MAX_HOLIDAYS = 366

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HH_MM = re.compile(r"(\d{1,2}):(\d{2})")


class InvalidSchedule(ValueError):
    """A schedule setting that cannot be used; the message says what is accepted."""


def parse_daily_at(text: str) -> str:
    """``"H:MM"`` or ``"HH:MM"`` (24-hour clock) normalised to ``"HH:MM"``."""
    match = _HH_MM.fullmatch(text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidSchedule(f"daily time {text!r} is not a 24-hour HH:MM time (00:00-23:59)")
    return f"{int(match[1]):02d}:{match[2]}"


def parse_every_minutes(minutes: int) -> int:
    if not 1 <= minutes <= MAX_EVERY_MINUTES:
        raise InvalidSchedule(
            f"--every takes 1-{MAX_EVERY_MINUTES} minutes, not {minutes} "
            "(use --daily for once a day)"
        )
    return minutes


def parse_holidays(text: str | None) -> tuple[date, ...]:
    """``"2026-12-25,2026-12-26"`` (ISO dates, store time) as sorted unique dates."""
    if text is None or not text.strip():
        return ()
    days: set[date] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if len(part) != 10:
                raise ValueError(part)
            days.add(date.fromisoformat(part))
        except ValueError:
            raise InvalidSchedule(
                f"holiday {part!r} is not a date like 2026-12-25 (YYYY-MM-DD, comma-separated)"
            ) from None
    if len(days) > MAX_HOLIDAYS:
        raise InvalidSchedule(f"at most {MAX_HOLIDAYS} holidays, not {len(days)}")
    return tuple(sorted(days))


def parse_step(text: str) -> str:
    """``"all"``, ``"stock"`` or one step's name, as stored in ``schedules.step``."""
    if text in (ALL_STEPS, STOCK_STEPS) or text in {s.value for s in Step}:
        return text
    names = ", ".join([ALL_STEPS, STOCK_STEPS, *(s.value for s in Step)])
    raise InvalidSchedule(f"unknown step {text!r} (choose one of {names})")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A validated schedule. Build it with ``ScheduleSpec.create``; at least one of
    ``daily_at`` / ``every_minutes`` is set."""

    timezone: str
    daily_at: str | None = None
    every_minutes: int | None = None
    step: str = ALL_STEPS
    business_days: bool = False
    holidays: tuple[date, ...] = ()

    @classmethod
    def create(
        cls,
        timezone: str,
        *,
        daily_at: str | None = None,
        every_minutes: int | None = None,
        step: str = ALL_STEPS,
        business_days: bool = False,
        holidays: str | None = None,
    ) -> ScheduleSpec:
        """Validate every field; raises ``InvalidSchedule`` naming the first bad one.
        ``holidays``: ISO dates, comma-separated (business-day schedules only)."""
        _zone(timezone)
        if daily_at is None and every_minutes is None:
            raise InvalidSchedule("a schedule needs --daily HH:MM, --every MINUTES, or both")
        days = parse_holidays(holidays)
        if days and not business_days:
            raise InvalidSchedule(
                "--holidays are skipped by business-day schedules only: add --business-days"
            )
        return cls(
            timezone=timezone,
            daily_at=None if daily_at is None else parse_daily_at(daily_at),
            every_minutes=None if every_minutes is None else parse_every_minutes(every_minutes),
            step=parse_step(step),
            business_days=business_days,
            holidays=days,
        )

    def runs_on(self, day: date) -> bool:
        """Whether the schedule has slots on the local date ``day``."""
        if not self.business_days:
            return True
        return day.weekday() in WORKDAYS and day not in self.holidays

    @property
    def holidays_text(self) -> str | None:
        """The holidays as stored (``schedules.holidays``)."""
        return ",".join(d.isoformat() for d in self.holidays) or None

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    @property
    def steps(self) -> tuple[Step, ...]:
        if self.step == ALL_STEPS:
            return SYNC_ALL
        if self.step == STOCK_STEPS:
            return (Step.INVENTORY_IN, Step.INVENTORY_OUT)
        return (Step(self.step),)


# daily slots -----------------------------------------------------------------


def _daily_slot(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the store's clock shows ``at`` on ``day`` (first occurrence if twice;
    the end of the gap if never)."""
    local = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first of two occurrences
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # ``at`` falls in a gap. fold=0 read it with the offset before the jump (an instant
    # after the jump), fold=1 with the offset after it (an instant before the jump): the
    # jump lies between them. Find it to the second.
    before = local.replace(fold=1).astimezone(UTC)
    after = instant
    if before > after:  # not a plain forward jump; take the later reading
        return before
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if middle <= before:
            break
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def _daily_at(spec: ScheduleSpec) -> time:
    assert spec.daily_at is not None
    hours, minutes = spec.daily_at.split(":")
    return time(int(hours), int(minutes))


def _daily_after(spec: ScheduleSpec, moment: datetime) -> datetime:
    """The first daily slot strictly after ``moment``."""
    zone, at = spec.zone, _daily_at(spec)
    day = moment.astimezone(zone).date() - timedelta(days=1)
    while True:
        slot = _daily_slot(day, at, zone)
        if slot > moment and spec.runs_on(day):
            return slot
        day += timedelta(days=1)


def _daily_at_or_before(spec: ScheduleSpec, moment: datetime) -> datetime:
    """The last daily slot at or before ``moment``."""
    zone, at = spec.zone, _daily_at(spec)
    day = moment.astimezone(zone).date() + timedelta(days=1)
    while True:
        slot = _daily_slot(day, at, zone)
        if slot <= moment and spec.runs_on(day):
            return slot
        day -= timedelta(days=1)


# interval slots --------------------------------------------------------------


def _interval_at_or_before(minutes: int, moment: datetime) -> datetime:
    step = timedelta(minutes=minutes)
    return _EPOCH + ((moment - _EPOCH) // step) * step


def _interval_after(minutes: int, moment: datetime) -> datetime:
    return _interval_at_or_before(minutes, moment) + timedelta(minutes=minutes)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of the local date ``day`` (the end of a gap at midnight)."""
    return _daily_slot(day, time(0, 0), zone)


_INSTANT = timedelta(microseconds=1)


def _spec_interval_after(spec: ScheduleSpec, moment: datetime) -> datetime:
    """The first interval slot strictly after ``moment`` on a day the schedule runs."""
    assert spec.every_minutes is not None
    zone = spec.zone
    slot = _interval_after(spec.every_minutes, moment)
    while not spec.runs_on(day := slot.astimezone(zone).date()):
        slot = _interval_after(
            spec.every_minutes, _day_start(day + timedelta(days=1), zone) - _INSTANT
        )
    return slot


def _spec_interval_at_or_before(spec: ScheduleSpec, moment: datetime) -> datetime:
    """The last interval slot at or before ``moment`` on a day the schedule runs."""
    assert spec.every_minutes is not None
    zone = spec.zone
    slot = _interval_at_or_before(spec.every_minutes, moment)
    while not spec.runs_on(day := slot.astimezone(zone).date()):
        slot = _interval_at_or_before(spec.every_minutes, _day_start(day, zone) - _INSTANT)
    return slot


# the public questions --------------------------------------------------------


def _require_aware(*moments: datetime | None) -> None:
    for moment in moments:
        if moment is not None and moment.utcoffset() is None:
            raise ValueError("naive datetime given; schedules work on timezone-aware times")


def next_slots(spec: ScheduleSpec, after: datetime, count: int) -> list[datetime]:
    """The first ``count`` slots strictly after ``after``: UTC, strictly increasing."""
    _require_aware(after)
    slots: list[datetime] = []
    moment = after.astimezone(UTC)
    while len(slots) < count:
        candidates = []
        if spec.daily_at is not None:
            candidates.append(_daily_after(spec, moment))
        if spec.every_minutes is not None:
            candidates.append(_spec_interval_after(spec, moment))
        moment = min(candidates)
        slots.append(moment)
    return slots


def due_slot(spec: ScheduleSpec, last_slot_at: datetime, now: datetime) -> datetime | None:
    """The slot to run at ``now``: the latest slot ``s`` with ``last_slot_at < s <= now``,
    or None when none is due. Store the answer as the new ``last_slot_at`` once the run
    is queued; a second call with it returns None until the next slot comes.
    """
    _require_aware(last_slot_at, now)
    now = now.astimezone(UTC)
    candidates = []
    if spec.daily_at is not None:
        candidates.append(_daily_at_or_before(spec, now))
    if spec.every_minutes is not None:
        candidates.append(_spec_interval_at_or_before(spec, now))
    latest = max(candidates)
    return latest if latest > last_slot_at else None
