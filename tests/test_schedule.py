"""Schedule computation: explicit daylight-saving cases in three time zones (two northern,
one southern, plus a half-hour shift) and properties over every IANA zone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.domain.schedule import (
    InvalidSchedule,
    ScheduleSpec,
    due_slot,
    next_slots,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(zone: str, slots: list[datetime]) -> list[str]:
    return [s.astimezone(ZoneInfo(zone)).isoformat() for s in slots]


@pytest.mark.parametrize(
    ("zone", "daily", "after", "expected_local"),
    [
        # New York springs forward 2026-03-08 02:00 -> 03:00: 02:30 does not exist.
        (
            "America/New_York",
            "02:30",
            "2026-03-07 12:00",
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        ),
        # ... and falls back 2026-11-01 02:00 -> 01:00: 01:30 happens twice, runs once.
        (
            "America/New_York",
            "01:30",
            "2026-10-31 12:00",
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
        ),
        # London springs forward 2026-03-29 01:00 -> 02:00.
        (
            "Europe/London",
            "01:30",
            "2026-03-28 12:00",
            ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"],
        ),
        # ... and falls back 2026-10-25 02:00 -> 01:00.
        (
            "Europe/London",
            "01:30",
            "2026-10-24 12:00",
            ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"],
        ),
        # Sydney (southern hemisphere) springs forward in October 2026-10-04 02:00 -> 03:00.
        (
            "Australia/Sydney",
            "02:30",
            "2026-10-03 00:00",
            ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"],
        ),
        # ... and falls back in April 2026-04-05 03:00 -> 02:00.
        (
            "Australia/Sydney",
            "02:30",
            "2026-04-04 00:00",
            ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"],
        ),
        # Lord Howe Island moves its clocks by half an hour: 02:00 -> 02:30.
        (
            "Australia/Lord_Howe",
            "02:15",
            "2026-10-03 00:00",
            ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
        ),
        # A daily time far from the change is untouched by it.
        (
            "America/New_York",
            "01:00",
            "2026-03-07 12:00",
            ["2026-03-08T01:00:00-05:00", "2026-03-09T01:00:00-04:00"],
        ),
    ],
)
def test_daily_time_across_dst(
    zone: str, daily: str, after: str, expected_local: list[str]
) -> None:
    spec = ScheduleSpec.create(zone, daily_at=daily)
    assert local(zone, next_slots(spec, utc(after), 2)) == expected_local


def test_a_day_that_does_not_exist_still_runs_once_after_it() -> None:
    # Samoa skipped 2011-12-30 entirely (UTC-10 -> UTC+14).
    spec = ScheduleSpec.create("Pacific/Apia", daily_at="01:00")
    slots = local("Pacific/Apia", next_slots(spec, utc("2011-12-28 12:00"), 3))
    assert slots == [
        "2011-12-29T01:00:00-10:00",
        "2011-12-31T00:00:00+14:00",  # the 30th's 01:00 never came: the first instant after
        "2011-12-31T01:00:00+14:00",
    ]


def test_every_n_minutes_is_elapsed_time_across_dst() -> None:
    spec = ScheduleSpec.create("America/New_York", every_minutes=60)
    slots = next_slots(spec, utc("2026-11-01 04:30"), 4)
    assert [b - a for a, b in itertools.pairwise(slots)] == [timedelta(hours=1)] * 3
    # 01:00 EDT, 01:00 EST (the hour repeats), 02:00 EST: each real hour once
    assert local("America/New_York", slots)[:3] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_daily_and_every_together_are_one_series() -> None:
    spec = ScheduleSpec.create("UTC", daily_at="01:00", every_minutes=30)
    slots = next_slots(spec, utc("2026-01-01 00:15"), 4)
    assert slots == [utc(f"2026-01-01 {t}") for t in ("00:30", "01:00", "01:30", "02:00")]
    assert spec.steps == SYNC_ALL
    assert ScheduleSpec.create("UTC", every_minutes=5, step="inventory-in").steps == (
        Step.INVENTORY_IN,
    )


def test_missed_slots_give_one_run() -> None:
    spec = ScheduleSpec.create("Europe/London", daily_at="01:00", every_minutes=60)
    last = utc("2026-06-01 00:00")
    now = utc("2026-06-04 09:20")  # down for three days
    assert due_slot(spec, last, now) == utc("2026-06-04 09:00")
    assert due_slot(spec, utc("2026-06-04 09:00"), now) is None
    assert due_slot(spec, last, last) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"daily_at": "25:00"}, "not a 24-hour HH:MM"),
        ({"daily_at": "12:60"}, "not a 24-hour HH:MM"),
        ({"daily_at": "noon"}, "not a 24-hour HH:MM"),
        ({"every_minutes": 0}, "1-1440 minutes"),
        ({"every_minutes": 10**9}, "1-1440 minutes"),
        ({"every_minutes": 5, "step": "everything"}, "unknown step"),
        ({}, "needs --daily"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        ScheduleSpec.create("UTC", **kwargs)  # type: ignore[arg-type]


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone"):
        ScheduleSpec.create("Mars/Olympus", daily_at="01:00")


# --- properties over every zone ------------------------------------------------------

ZONES = st.timezone_keys(allow_prefix=False).filter(lambda k: k not in ("Factory", "localtime"))
MOMENTS = st.datetimes(
    min_value=datetime(1995, 1, 1), max_value=datetime(2045, 12, 31), timezones=st.just(UTC)
)
DAILY = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


@st.composite
def specs(draw: st.DrawFn) -> ScheduleSpec:
    daily = draw(st.none() | DAILY)
    every = draw(st.integers(1, 1440)) if daily is None else draw(st.none() | st.integers(1, 1440))
    return ScheduleSpec.create(draw(ZONES), daily_at=daily, every_minutes=every)


@given(specs(), MOMENTS)
def test_next_slots_increase_strictly(spec: ScheduleSpec, after: datetime) -> None:
    slots = next_slots(spec, after, 5)
    assert len(slots) == 5
    assert slots[0] > after
    assert all(a < b for a, b in itertools.pairwise(slots))


@given(ZONES, DAILY, MOMENTS)
def test_daily_slot_is_the_wall_time_or_the_first_instant_after_it(
    zone_name: str, daily: str, after: datetime
) -> None:
    spec = ScheduleSpec.create(zone_name, daily_at=daily)
    zone = ZoneInfo(zone_name)
    hours, minutes = map(int, daily.split(":"))
    for slot in next_slots(spec, after, 3):
        shown = slot.astimezone(zone)
        if (shown.hour, shown.minute) != (hours, minutes) or shown.second:
            # the wanted time never showed that day: the slot is the instant the clocks
            # jumped over it (the offset changes right there)
            just_before = (slot - timedelta(seconds=1)).astimezone(zone)
            assert just_before.utcoffset() != shown.utcoffset()
            assert (just_before.hour, just_before.minute) < (hours, minutes) or (
                just_before.date() < shown.date()
            )
        else:
            # the wanted time showed: the slot is its first occurrence
            assert shown.replace(fold=0).astimezone(UTC) == slot


@given(specs(), MOMENTS, st.integers(0, 10 * 24 * 60))
def test_due_slot_is_the_latest_slot_up_to_now(
    spec: ScheduleSpec, last: datetime, minutes_later: int
) -> None:
    now = last + timedelta(minutes=minutes_later)
    due = due_slot(spec, last, now)
    first_after_last = next_slots(spec, last, 1)[0]
    if due is None:
        assert first_after_last > now
    else:
        assert last < due <= now
        assert next_slots(spec, due, 1)[0] > now  # nothing later is due: one run, no backlog
        assert due_slot(spec, due, now) is None  # claimed: not due again
