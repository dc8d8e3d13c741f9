"""Scaled mode's rules, in one process on PostgreSQL: one waiting job per store however
many triggers, a job that keeps failing ends failed and visible on its runs, a dead
worker's job is put back then given up, the quota ledger holds the limits for every
process together, and the embedded mode never imports procrastinate."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from stockbridge.cli import build_app
from stockbridge.connectors.ratelimit import LimiterRegistry, RateLimiter, Window
from stockbridge.db.quota import PostgresQuotaLedger
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step, Trigger
from stockbridge.jobs.scaled import MAX_ATTEMPTS, ScaledRuntime, make_app
from tests.conftest import POSTGRES_URL, Harness, make_harness, postgres_unavailable
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.scaled_support import FAST


@pytest.fixture
def fresh_pg(tmp_path: Path, postgres_url: str) -> Iterator[Harness]:
    h = make_harness(tmp_path, postgres_url)
    yield h
    h.hub.engine.dispose()


@pytest.fixture(scope="module")
def pg_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One migrated PostgreSQL hub for the module (migrating costs more than a test)."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"sb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as db:
        db.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    h = make_harness(tmp_path_factory.mktemp("scaled"), url)
    yield h
    h.hub.engine.dispose()
    with admin.begin() as db:
        db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg(pg_module: Harness) -> Harness:
    """The module's hub, emptied: no store, run, schedule, job or worker left."""
    with pg_module.hub.engine.begin() as db:
        db.execute(
            text(
                "TRUNCATE stores, procrastinate_jobs, procrastinate_workers, "
                "procrastinate_periodic_defers, procrastinate_events, rate_limit_accounts, "
                "rate_limit_sent, rate_limit_in_flight RESTART IDENTITY CASCADE"
            )
        )
    pg_module.partners.clear()
    return pg_module


@pytest.fixture
def runtime(pg: Harness) -> Iterator[ScaledRuntime]:
    rt = ScaledRuntime(pg.hub, FAST).open()
    yield rt
    rt.close()


def jobs(pg: Harness, status: str = "todo") -> list[tuple[str, str | None]]:
    with pg.hub.uow() as uow:
        rows = uow.session.execute(
            text(
                "SELECT task_name, queueing_lock FROM procrastinate_jobs WHERE status = :s "
                "ORDER BY id"
            ),
            {"s": status},
        ).all()
    return [(row[0], row[1]) for row in rows]


def test_a_flood_of_triggers_leaves_one_waiting_job_per_store(
    pg: Harness, runtime: ScaledRuntime
) -> None:
    first = pg.add_store("a", web=FakeWebStore(), back_office=FakeBackOffice())
    second = pg.add_store("b", web=FakeWebStore(), back_office=FakeBackOffice())
    runner = pg.hub.runner()
    for trigger in (Trigger.MANUAL, Trigger.WEBHOOK, Trigger.SCHEDULE) * 10:
        for store in (first, second):
            run_id, _ = runner.request(store, SYNC_ALL, trigger)
            runtime.queue.submit_run(run_id)
    for _ in range(20):
        runtime.queue.submit_inbox()
    assert sorted(jobs(pg)) == sorted(
        [
            ("stockbridge.run_store", f"store:{first}"),
            ("stockbridge.run_store", f"store:{second}"),
            ("stockbridge.inbox_pass", "inbox"),
        ]
    )


def test_one_job_runs_every_queued_run_of_its_store_in_order(
    pg: Harness, runtime: ScaledRuntime
) -> None:
    store = pg.add_store("a", web=FakeWebStore(), back_office=FakeBackOffice())
    runner = pg.hub.runner()
    ids = [runner.request(store, SYNC_ALL, t)[0] for t in (Trigger.MANUAL, Trigger.WEBHOOK)]
    runtime.run_store(store)
    reports = [runner.report(run_id) for run_id in ids]
    assert [r.status for r in reports] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]


def test_a_job_that_keeps_failing_ends_failed_on_its_runs(
    pg: Harness, runtime: ScaledRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = pg.add_store("a", web=FakeWebStore(), back_office=FakeBackOffice())
    run_id, _ = pg.hub.runner().request(store, (Step.ORDERS_IN,), Trigger.MANUAL)

    def database_away(*_a: object, **_k: object) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr(runtime.runner, "execute", database_away)
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(ConnectionError):
            runtime.run_store(store, attempt=attempt)
        assert pg.hub.runner().report(run_id).status is RunStatus.QUEUED  # retried later
    with pytest.raises(ConnectionError):
        runtime.run_store(store, attempt=MAX_ATTEMPTS)
    report = pg.hub.runner().report(run_id)
    assert report.status is RunStatus.FAILED
    assert report.error is not None
    assert f"gave up after {MAX_ATTEMPTS} attempts" in report.error
    assert "database away" in report.error


def test_a_dead_workers_job_is_put_back_then_given_up(pg: Harness, runtime: ScaledRuntime) -> None:
    """The worker died (its heartbeat stopped): the tick puts its job back with a
    back-off, attempt after attempt, and after MAX_ATTEMPTS ends it failed and records
    the store's queued runs failed."""
    store = pg.add_store("a", web=FakeWebStore(), back_office=FakeBackOffice())
    run_id, _ = pg.hub.runner().request(store, SYNC_ALL, Trigger.MANUAL)
    runtime.queue.submit_run(run_id)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with pg.hub.uow() as uow:
            # A worker takes the job, then dies: its heartbeat is old, the job "doing".
            uow.session.execute(
                text(
                    "WITH w AS (INSERT INTO procrastinate_workers (last_heartbeat) "
                    "VALUES (now() - interval '1 hour') RETURNING id) "
                    "UPDATE procrastinate_jobs SET status = 'doing', "
                    "worker_id = (SELECT id FROM w), scheduled_at = NULL "
                    "WHERE task_name = 'stockbridge.run_store'"
                )
            )
            uow.commit()
        put_back = retry_stalled(runtime)
        if attempt < MAX_ATTEMPTS:
            assert put_back == 1
            assert jobs(pg) == [("stockbridge.run_store", f"store:{store}")]
            assert pg.hub.runner().report(run_id).status is RunStatus.QUEUED
        else:
            assert put_back == 0
    assert jobs(pg, "failed") == [("stockbridge.run_store", f"store:{store}")]
    report = pg.hub.runner().report(run_id)
    assert report.status is RunStatus.FAILED
    assert report.error is not None and "its worker died" in report.error


def test_a_dead_workers_job_is_retired_when_its_store_already_has_a_waiting_one(
    pg: Harness, runtime: ScaledRuntime
) -> None:
    """Putting it back would make two waiting jobs of one store (refused by the queueing
    lock): the waiting one takes the work, the dead one ends aborted and frees the lock."""
    store = pg.add_store("a", web=FakeWebStore(), back_office=FakeBackOffice())
    run_id, _ = pg.hub.runner().request(store, SYNC_ALL, Trigger.MANUAL)
    runtime.queue.submit_run(run_id)
    with pg.hub.uow() as uow:
        uow.session.execute(
            text(
                "WITH w AS (INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - interval '1 hour') RETURNING id) "
                "UPDATE procrastinate_jobs SET status = 'doing', worker_id = (SELECT id FROM w)"
            )
        )
        uow.commit()
    assert runtime.queue.submit_store(store)  # a new trigger: a job waits behind it
    assert retry_stalled(runtime) == 0
    assert jobs(pg, "aborted") == [("stockbridge.run_store", f"store:{store}")]
    assert jobs(pg, "doing") == []
    assert jobs(pg) == [("stockbridge.run_store", f"store:{store}")]


def test_the_tick_queues_a_due_slot_once_and_nudges_forgotten_runs(
    pg: Harness, runtime: ScaledRuntime
) -> None:
    store = pg.add_store("a", web=FakeWebStore(), back_office=FakeBackOffice())
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with pg.hub.uow() as uow:
        uow.session.execute(
            text(
                "INSERT INTO schedules (store_id, step, daily_at, enabled, business_days, "
                "last_slot_at, updated_at) VALUES (:s, 'all', '00:00', true, false, :y, :t)"
            ),
            {"s": store, "y": today - timedelta(days=1), "t": today},
        )
        uow.commit()
    runtime.housekeeping(datetime.now(UTC))
    runtime.housekeeping(datetime.now(UTC))
    with pg.hub.uow() as uow:
        runs = uow.runs.unfinished()
        assert [(r.store_id, r.trigger) for r in runs] == [(store, "schedule")]
    assert jobs(pg) == [("stockbridge.run_store", f"store:{store}")]
    # A run committed by a web node that died before deferring its job: nudged.
    with pg.hub.uow() as uow:
        uow.session.execute(text("DELETE FROM procrastinate_jobs"))
        uow.commit()
    assert runtime.nudge(datetime.now(UTC) + timedelta(seconds=1)) == [store]


def test_the_quota_ledger_holds_windows_and_in_flight_for_all_processes(
    pg: Harness,
) -> None:
    """Four "processes" (limiter registries of their own) call one account: together
    they keep its in-flight cap and its window, as the partner counts them."""
    ledger = PostgresQuotaLedger(pg.hub.engine)
    window, cap = Window(6, 0.4), 2
    limiters = [
        LimiterRegistry(ledger=ledger).get(
            "qbo:1", lambda: RateLimiter([window], max_in_flight=cap)
        )
        for _ in range(4)
    ]
    starts: list[float] = []
    flying, most = 0, 0
    lock = threading.Lock()

    def call(limiter: RateLimiter) -> None:
        nonlocal flying, most
        for _ in range(5):
            with limiter.slot():
                with lock:
                    starts.append(time.monotonic())
                    flying += 1
                    most = max(most, flying)
                time.sleep(0.02)
                with lock:
                    flying -= 1

    threads = [threading.Thread(target=call, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(starts) == 20
    assert most <= cap
    starts.sort()
    # No span shorter than the window (less a margin for this process's clock) holds
    # more than the window's requests.
    span = window.seconds * 0.9
    assert (
        max(sum(1 for t in starts if first <= t < first + span) for first in starts)
        <= window.requests
    )


def retry_stalled(runtime: ScaledRuntime) -> int:
    """One tick's stalled-job pass, on an app opened as a worker opens it (async)."""

    async def tick() -> int:
        app = make_app(runtime.hub.settings.resolved_database_url, FAST)
        async with app.open_async():
            return await runtime.retry_stalled(app)

    return asyncio.run(tick())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "--queues", "runs,bogus"], "unknown queue(s): bogus"),
        (["worker", "--queues", " , "], "unknown queue(s): (none given)"),
        (["worker", "--concurrency", "0"], "Invalid value"),
        (["worker", "--concurrency", "many"], "Invalid value"),
    ],
)
def test_worker_refuses_bad_options(pg: Harness, args: list[str], message: str) -> None:
    result = CliRunner().invoke(build_app(lambda: pg.hub), args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("args", [["worker"], ["serve", "--no-worker"]])
def test_scaled_commands_refuse_sqlite(sqlite_harness: Harness, args: list[str]) -> None:
    result = CliRunner().invoke(build_app(lambda: sqlite_harness.hub), args)
    assert result.exit_code == 2
    assert "scaled mode needs PostgreSQL" in result.output


def test_worker_refuses_a_database_without_the_job_tables(fresh_pg: Harness) -> None:
    with fresh_pg.hub.engine.begin() as db:
        db.execute(text("DROP TABLE procrastinate_jobs CASCADE"))
    result = CliRunner().invoke(build_app(lambda: fresh_pg.hub), ["worker"])
    assert result.exit_code == 2
    assert "stockbridge init" in result.output
