"""Time that counts toward "no sync for N hours" when a store syncs on business days
only: the hours of business days (store time: Monday to Friday, less the store's
holidays), so a weekend or a holiday without a sync is no outage. Pure: a store's zone
and holidays in, a ``timedelta`` out."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stockbridge.domain.schedule import WORKDAYS

__all__ = ["business_time_between"]


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of ``day`` in UTC (arithmetic between two moments of one ZoneInfo
    would ignore a DST change between them)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def business_time_between(
    start: datetime, end: datetime, zone: ZoneInfo, holidays: Collection[date] = ()
) -> timedelta:
    """How much of [start, end) falls on business days in ``zone`` (days of any length:
    a day of a DST change counts its real 23 or 25 hours). Both moments are aware."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return timedelta(0)
    total = timedelta(0)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if day.weekday() in WORKDAYS and day not in holidays:
            opens = max(start, _start_of(day, zone))
            closes = min(end, _start_of(day + timedelta(days=1), zone))
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total
