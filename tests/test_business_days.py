"""Business-day schedules: Monday to Friday in the store's time zone, less holidays,
across a weekend, a holiday and a daylight-saving change; the scheduler queues nothing
on a weekend; bad input is refused with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.domain.schedule import InvalidSchedule, ScheduleSpec, due_slot, next_slots
from stockbridge.jobs.scheduler import Scheduler
from tests.conftest import Harness
from tests.test_schedule_service import RecordingRequests

NY = ZoneInfo("America/New_York")


def local(text: str) -> datetime:
    """A wall-clock time in New York (first occurrence when ambiguous)."""
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def business(
    daily: str | None = "02:30", every: int | None = None, holidays: str = ""
) -> ScheduleSpec:
    return ScheduleSpec.create(
        "America/New_York",
        daily_at=daily,
        every_minutes=every,
        business_days=True,
        holidays=holidays or None,
    )


def test_a_friday_slot_is_followed_by_mondays_across_the_clock_change() -> None:
    # 2026-03-06 is a Friday; New York springs forward on Sunday 2026-03-08.
    slots = next_slots(business(), local("2026-03-06T03:00"), 2)
    assert [s.astimezone(NY).isoformat() for s in slots] == [
        "2026-03-09T02:30:00-04:00",  # Monday, daylight time: still 02:30 on the wall
        "2026-03-10T02:30:00-04:00",
    ]
    every_day = ScheduleSpec.create("America/New_York", daily_at="02:30")
    assert next_slots(every_day, local("2026-03-06T03:00"), 1)[0].astimezone(NY).day == 7


def test_a_holiday_is_skipped() -> None:
    # 2026-12-25 is a Friday: after Thursday's run the next is Monday the 28th.
    slots = next_slots(business(holidays="2026-12-25"), local("2026-12-24T03:00"), 1)
    assert slots[0].astimezone(NY).isoformat() == "2026-12-28T02:30:00-05:00"


def test_due_slot_waits_out_the_weekend_and_runs_once_on_monday() -> None:
    spec = business()
    friday = local("2026-03-06T02:30").astimezone(UTC)
    assert due_slot(spec, friday, local("2026-03-08T12:00")) is None  # Sunday
    monday = due_slot(spec, friday, local("2026-03-09T09:00"))
    assert monday == local("2026-03-09T02:30")


def test_interval_slots_stop_for_the_weekend() -> None:
    spec = business(daily=None, every=60)
    after_friday = next_slots(spec, local("2026-03-06T23:30"), 2)
    assert [s.astimezone(NY).isoformat() for s in after_friday] == [
        "2026-03-09T00:00:00-04:00",
        "2026-03-09T01:00:00-04:00",
    ]
    # Asked on Saturday, the latest slot was Friday's last one.
    assert due_slot(spec, local("2026-03-06T00:00"), local("2026-03-07T15:00")) == local(
        "2026-03-06T23:00"
    )


@pytest.mark.parametrize(
    ("holidays", "business_days", "reason"),
    [
        ("2026-13-01", True, "'2026-13-01' is not a date"),
        ("2026-2-3", True, "'2026-2-3' is not a date"),
        ("christmas", True, "'christmas' is not a date"),
        ("2026-12-25", False, "add --business-days"),
    ],
)
def test_bad_holidays_are_refused(holidays: str, business_days: bool, reason: str) -> None:
    with pytest.raises(InvalidSchedule, match=reason):
        ScheduleSpec.create("UTC", daily_at="02:30", business_days=business_days, holidays=holidays)


def test_the_scheduler_queues_nothing_on_a_weekend_or_holiday(harness: Harness) -> None:
    harness.add_store("shop")
    services.update_store(harness.hub, "shop", timezone="America/New_York")
    thursday = local("2026-12-24T03:00")
    services.set_schedule(
        harness.hub,
        "shop",
        daily_at="02:30",
        business_days=True,
        holidays="2026-12-25",
        now=thursday.astimezone(UTC),
    )
    requests = RecordingRequests(harness)
    scheduler = Scheduler(harness.hub.uow, requests)

    for moment in ("2026-12-25T09:00", "2026-12-26T09:00", "2026-12-27T09:00"):
        assert scheduler.tick(local(moment).astimezone(UTC)) == []
    assert len(scheduler.tick(local("2026-12-28T09:00").astimezone(UTC))) == 1
    assert len(requests.calls) == 1


def test_the_cli_sets_and_shows_business_days_and_refuses_bad_dates(harness: Harness) -> None:
    harness.add_store("shop")

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(build_app(lambda: harness.hub), list(args))
        return result.exit_code, result.output

    code, out = cli(
        "schedule", "set", "shop", "--daily", "02:30", "--business-days",
        "--holidays", "2026-12-25,2026-12-26",
    )  # fmt: skip
    assert code == 0, out
    assert "daily at 02:30 on business days (Monday-Friday, except 2026-12-25, 2026-12-26)" in out
    before = services.show_schedule(harness.hub, "shop")

    for bad, reason in [
        (("--holidays", "2026-12-32"), "is not a date"),
        (("--holidays", "2026-12-25"), "add --business-days"),
    ]:
        code, out = cli("schedule", "set", "shop", "--daily", "03:00", *bad)
        assert code == 2 and reason in out, out
    assert services.show_schedule(harness.hub, "shop") == before
