"""The scheduler against a real database (SQLite and PostgreSQL), and the schedule CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner, Result

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.domain.model import SYNC_ALL, Step, Trigger
from stockbridge.jobs.scheduler import Scheduler
from tests.conftest import Harness
from tests.test_cli import sb


class RecordingRequests:
    """``request_run`` that queues through the real runner and records every call."""

    def __init__(self, harness: Harness, failures: int = 0) -> None:
        self.runner = harness.hub.runner()
        self.calls: list[tuple[int, tuple[Step, ...], Trigger]] = []
        self.failures = failures
        self.lock = threading.Lock()

    def __call__(
        self, store_id: int, steps: tuple[Step, ...], trigger: Trigger
    ) -> tuple[int, bool]:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise OperationalError("INSERT INTO sync_runs", {}, Exception("database is gone"))
            self.calls.append((store_id, steps, trigger))
        return self.runner.request(store_id, steps, trigger)


def created_at(harness: Harness, store_id: int) -> datetime:
    with harness.hub.uow() as uow:
        store = uow.stores.get(store_id)
        assert store is not None
        return store.created_at


def next_utc(moment: datetime, hour: int) -> datetime:
    candidate = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
    return candidate if candidate > moment else candidate + timedelta(days=1)


def test_a_new_store_gets_the_daily_default(harness: Harness) -> None:
    store_id = harness.add_store("shop")
    requests = RecordingRequests(harness)
    scheduler = Scheduler(harness.hub.uow, requests)
    start = created_at(harness, store_id)
    assert scheduler.tick(start) == []
    one_am = next_utc(start, 1)  # the store's time zone is UTC
    queued = scheduler.tick(one_am + timedelta(seconds=3))
    assert len(queued) == 1
    assert requests.calls == [(store_id, SYNC_ALL, Trigger.SCHEDULE)]
    assert scheduler.tick(one_am + timedelta(seconds=6)) == []
    shown = services.show_schedule(harness.hub, "shop", now=one_am)
    assert shown.schedules[0].daily_at == "01:00"
    assert shown.schedules[0].last_slot_at == one_am
    history = services.run_history(harness.hub, "shop")
    assert [(r.trigger, r.status) for r in history] == [("schedule", "queued")]


def test_three_days_down_gives_one_run_at_start(harness: Harness) -> None:
    harness.add_store("shop")
    start = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    services.set_schedule(harness.hub, "shop", every_minutes=60, now=start)
    services.set_schedule(
        harness.hub, "shop", step="inventory-in", every_minutes=15, daily_at="03:00", now=start
    )
    requests = RecordingRequests(harness)
    scheduler = Scheduler(harness.hub.uow, requests)
    back = start + timedelta(days=3, minutes=7)
    queued = scheduler.tick(back)
    # one request per schedule, not one per missed slot; inventory-in merges into the
    # queued Sync All run, which covers it
    assert sorted(c[1] for c in requests.calls) == sorted([SYNC_ALL, (Step.INVENTORY_IN,)])
    assert len(queued) == 1
    assert scheduler.tick(back + timedelta(minutes=1)) == []
    assert scheduler.tick(back + timedelta(minutes=8)) == queued  # the next quarter hour
    assert len(requests.calls) == 3


@pytest.mark.parametrize(
    ("start", "expected_slot"),
    [
        # London falls back 2026-10-25: 01:30 happens twice (BST, then GMT)
        (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        # ... and springs forward 2026-03-29: 01:30 never shows; the run is at 02:00 BST
        (datetime(2026, 3, 28, 22, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ],
)
def test_ticking_through_a_dst_night_runs_once(
    sqlite_harness: Harness, start: datetime, expected_slot: datetime
) -> None:
    services.add_store(sqlite_harness.hub, "ldn", timezone="Europe/London")
    services.set_schedule(sqlite_harness.hub, "ldn", daily_at="01:30", now=start)
    requests = RecordingRequests(sqlite_harness)
    scheduler = Scheduler(sqlite_harness.hub.uow, requests)
    claimed_at = []
    for tick in range(0, 6 * 60, 4):  # every 4 minutes for six hours
        now = start + timedelta(minutes=tick)
        if scheduler.tick(now):
            claimed_at.append(now)
    assert len(requests.calls) == 1
    assert expected_slot <= claimed_at[0] < expected_slot + timedelta(minutes=4)
    shown = services.show_schedule(sqlite_harness.hub, "ldn", now=claimed_at[0])
    assert shown.schedules[0].last_slot_at == expected_slot


def test_disabled_schedule_queues_nothing(harness: Harness) -> None:
    harness.add_store("shop")
    start = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    services.set_schedule(harness.hub, "shop", off=True, now=start)
    scheduler = Scheduler(harness.hub.uow, RecordingRequests(harness))
    assert scheduler.tick(start + timedelta(days=2)) == []


def test_a_slot_that_could_not_be_queued_is_tried_again(harness: Harness) -> None:
    harness.add_store("shop")
    start = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    services.set_schedule(harness.hub, "shop", every_minutes=30, now=start)
    requests = RecordingRequests(harness, failures=1)
    scheduler = Scheduler(harness.hub.uow, requests)
    now = start + timedelta(minutes=31)
    assert scheduler.tick(now) == []
    assert len(scheduler.tick(now + timedelta(seconds=5))) == 1
    assert len(requests.calls) == 1


def test_two_schedulers_that_both_saw_a_slot_queue_it_once(harness: Harness) -> None:
    harness.add_store("shop")
    start = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    services.set_schedule(harness.hub, "shop", every_minutes=5, now=start)
    requests = RecordingRequests(harness)
    first, second = Scheduler(harness.hub.uow, requests), Scheduler(harness.hub.uow, requests)
    now = start + timedelta(minutes=6)
    seen_first, seen_second = first.due(now), second.due(now)
    assert len(seen_first) == len(seen_second) == 1  # both read the slot before either claims
    threads = [
        threading.Thread(target=first.queue, args=(seen_first,)),
        threading.Thread(target=second.queue, args=(seen_second,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(requests.calls) == 1


def test_schedulers_ticking_together_queue_each_slot_once(harness: Harness) -> None:
    for name in ("one", "two"):
        harness.add_store(name)
        services.set_schedule(
            harness.hub, name, every_minutes=1, now=datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
        )
    requests = RecordingRequests(harness)
    schedulers = [Scheduler(harness.hub.uow, requests) for _ in range(4)]
    minutes = 5
    barrier = threading.Barrier(len(schedulers), timeout=60)

    def tick_along(scheduler: Scheduler) -> None:
        for minute in range(1, minutes + 1):
            barrier.wait()
            scheduler.tick(datetime(2030, 3, 1, 12, minute, 30, tzinfo=UTC))

    threads = [threading.Thread(target=tick_along, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(requests.calls) == 2 * minutes  # two stores, one call per slot


# --- the CLI -----------------------------------------------------------------------------


def test_schedule_set_and_show_through_the_entry_point(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert sb(home, "init").returncode == 0
    assert sb(home, "store", "add", "shop", "--timezone", "America/New_York").returncode == 0
    shown = json.loads(sb(home, "schedule", "show", "shop", "--json").stdout)
    assert shown["timezone"] == "America/New_York"
    default = shown["schedules"][0]
    assert (default["step"], default["daily_at"], default["enabled"]) == ("all", "01:00", True)
    assert all(run.endswith(("-05:00", "-04:00")) for run in default["next_runs"])
    assert all("T01:00:00" in run for run in default["next_runs"])
    result = sb(home, "schedule", "set", "shop", "--daily", "2:30", "--every", "720")
    assert result.returncode == 0, result.stderr
    assert "daily at 02:30 and every 720 minutes (on)" in result.stdout
    bad = sb(home, "schedule", "set", "shop", "--daily", "25:00")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: daily time '25:00' is not a 24-hour HH:MM time (00:00-23:59)"
    ]


@pytest.fixture
def cli(sqlite_harness: Harness) -> Callable[..., Result]:
    """The Typer app wired to a test hub with one store in New York time."""
    services.add_store(sqlite_harness.hub, "shop", timezone="America/New_York")
    app = build_app(lambda: sqlite_harness.hub)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_schedule_steps_and_off(cli: Callable[..., Result]) -> None:
    assert cli("schedule", "set", "shop", "--step", "inventory-in", "--every", "15").exit_code == 0
    shown = json.loads(cli("schedule", "show", "shop", "--json").output)
    steps = {s["step"]: s for s in shown["schedules"]}
    assert steps["inventory-in"]["every_minutes"] == 15
    assert steps["all"]["daily_at"] == "01:00"  # the default stays
    assert cli("schedule", "set", "shop", "--off").exit_code == 0
    text = cli("schedule", "show", "shop").output
    assert "all: daily at 01:00 (off)" in text
    assert "inventory-in: every 15 minutes (on)" in text
    assert "next: " in text and (" EST " in text or " EDT " in text)
    assert cli("schedule", "set", "shop", "--every", "30").exit_code == 0  # on again
    text = cli("schedule", "show", "shop").output
    assert "all: every 30 minutes (on)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--daily", "25:00"), "not a 24-hour HH:MM time"),
        (("--daily", "7pm"), "not a 24-hour HH:MM time"),
        (("--every", "0"), "1-1440 minutes"),
        (("--every", "100000"), "1-1440 minutes"),
        (("--every", "-5"), "1-1440 minutes"),
        (("--every", "often"), "--every"),
        (("--every", "5", "--step", "everything"), "unknown step 'everything'"),
        ((), "nothing to set"),
        (("--off", "--daily", "01:00"), "--off turns a schedule off"),
        (("--off", "--step", "orders-out"), "no orders-out schedule"),
    ],
)
def test_schedule_set_bad_input_exits_2_and_changes_nothing(
    cli: Callable[..., Result], args: tuple[str, ...], message: str
) -> None:
    assert cli("schedule", "set", "shop", "--every", "45").exit_code == 0
    before = cli("schedule", "show", "shop", "--json").output
    result = cli("schedule", "set", "shop", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert cli("schedule", "show", "shop", "--json").output == before


def test_schedule_for_an_unknown_store_exits_2(cli: Callable[..., Result]) -> None:
    for args in (("set", "nope", "--every", "5"), ("show", "nope")):
        result = cli("schedule", *args)
        assert result.exit_code == 2
        assert "no store named 'nope'" in result.output
