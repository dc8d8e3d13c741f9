"""The stale alert ("no sync completed for N hours") counts only business days' hours
when the store's Sync All runs on business days only: a weekend or a listed holiday
without a sync is no outage. Through the Alerter against the database, and the pure
count across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from stockbridge import services
from stockbridge.alerts import Alerter
from stockbridge.db.models import Store
from stockbridge.domain.business_time import business_time_between
from tests.conftest import Harness

ZONE = ZoneInfo("America/Chicago")
#: Friday 2026-12-04, 18:00 in Chicago: the store's last sync (here: its creation).
FRIDAY_EVENING = datetime(2026, 12, 4, 18, 0, tzinfo=ZONE)


def _store_added_friday_evening(harness: Harness) -> int:
    store_id = harness.add_store("shop")
    services.update_store(harness.hub, "shop", timezone="America/Chicago", stale_after_hours=24)
    with harness.hub.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        store.created_at = FRIDAY_EVENING.astimezone(UTC)
        uow.commit()
    return store_id


def _opens(alerter: Alerter, local: datetime) -> int:
    return len(alerter.check(local.astimezone(UTC)).opened)


def test_a_business_day_schedule_does_not_alert_over_the_weekend(
    sqlite_harness: Harness,
) -> None:
    _store_added_friday_evening(sqlite_harness)
    services.set_schedule(sqlite_harness.hub, "shop", daily_at="01:00", business_days=True)
    alerter = Alerter(sqlite_harness.hub.uow, [])
    assert _opens(alerter, datetime(2026, 12, 5, 18, 1, tzinfo=ZONE)) == 0  # Saturday
    assert _opens(alerter, datetime(2026, 12, 6, 23, 0, tzinfo=ZONE)) == 0  # Sunday
    # Friday 18:00-24:00 (6 h) + Monday 00:00-17:59 (17 h 59): under 24 h of business days
    assert _opens(alerter, datetime(2026, 12, 7, 17, 59, tzinfo=ZONE)) == 0
    assert _opens(alerter, datetime(2026, 12, 7, 18, 1, tzinfo=ZONE)) == 1  # 24 h 01


def test_a_holiday_counts_like_a_weekend_day(sqlite_harness: Harness) -> None:
    _store_added_friday_evening(sqlite_harness)
    services.set_schedule(
        sqlite_harness.hub, "shop", daily_at="01:00", business_days=True, holidays="2026-12-07"
    )
    alerter = Alerter(sqlite_harness.hub.uow, [])
    assert _opens(alerter, datetime(2026, 12, 7, 23, 0, tzinfo=ZONE)) == 0  # the holiday
    assert _opens(alerter, datetime(2026, 12, 8, 18, 1, tzinfo=ZONE)) == 1  # Tuesday


def test_an_every_day_schedule_still_counts_plain_hours(sqlite_harness: Harness) -> None:
    _store_added_friday_evening(sqlite_harness)
    services.set_schedule(sqlite_harness.hub, "shop", daily_at="01:00")
    alerter = Alerter(sqlite_harness.hub.uow, [])
    assert _opens(alerter, datetime(2026, 12, 5, 17, 59, tzinfo=ZONE)) == 0
    assert _opens(alerter, datetime(2026, 12, 5, 18, 1, tzinfo=ZONE)) == 1  # Saturday


def test_business_time_counts_real_hours_across_a_dst_change() -> None:
    # Sunday 2026-03-08 is the spring change in Chicago (a weekend day: not counted);
    # Friday 12:00 to Monday 12:00 is 12 h of Friday and 12 h of Monday.
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=ZONE)
    monday = datetime(2026, 3, 9, 12, 0, tzinfo=ZONE)
    assert business_time_between(friday, monday, ZONE) == timedelta(hours=24)
    # the week after the autumn change (Sunday 2026-11-01): five whole days, 120 h
    week = datetime(2026, 11, 2, 0, 0, tzinfo=ZONE)
    assert business_time_between(week, week + timedelta(days=7), ZONE) == timedelta(hours=120)
    assert business_time_between(monday, friday, ZONE) == timedelta(0)  # backwards: none
