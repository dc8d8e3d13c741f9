"""Scaled mode with real worker PROCESSES (``stockbridge worker``) on PostgreSQL and
stores on the sandboxes (``STORES`` here; fifty in ``python -m bench workers``): a storm
of manual, scheduled and webhook triggers, a worker killed with SIGKILL in the middle of
a run, and the scheduler's tick surviving the kill of a worker running it. Bounded in
counts and time (each wait has a timeout)."""

from __future__ import annotations

import itertools
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from bench.fleet import Fleet, start_fleet
from sqlalchemy import select

from stockbridge.db.models import StoreLease
from stockbridge.domain.model import Trigger
from stockbridge.jobs.scaled import open_queue

pytestmark = pytest.mark.postgres

#: Stores in the storm: enough for three workers to contend on every realm and for runs of
#: every trigger to interleave, few enough to keep the suite quick (the bench runs 50).
STORES = int(os.environ.get("STOCKBRIDGE_TEST_FLEET_STORES", "9"))

#: The workers notice a dead one within seconds (production: 10 s / 30 s).
FAST = {
    "STOCKBRIDGE_WORKER_HEARTBEAT_SECONDS": "0.5",
    "STOCKBRIDGE_WORKER_STALLED_SECONDS": "2",
    "STOCKBRIDGE_SCHEDULER_CRON": "* * * * * *",
}


@pytest.fixture
def fleet(tmp_path: Path, postgres_url: str) -> Iterator[Fleet]:
    fleet = start_fleet(tmp_path / "home", postgres_url, stores=STORES, realms=3, extra_env=FAST)
    yield fleet
    fleet.close()


def assert_never_overlapping(fleet: Fleet) -> None:
    """No store ever had two runs at once (so never two runs of one step)."""
    by_store = defaultdict(list)
    for run in fleet.runs():
        assert run.started_at is not None or run.status == "failed", run.id
        if run.started_at is not None:
            assert run.finished_at is not None, f"run {run.id} left {run.status}"
            by_store[run.store_id].append((run.started_at, run.finished_at, run.id))
    for spans in by_store.values():
        spans.sort()
        for (_s1, end, first), (start, _e2, second) in itertools.pairwise(spans):
            assert start >= end, f"runs {first} and {second} of one store overlapped"


def test_three_workers_a_storm_a_sigkill_and_the_tick_surviving_a_kill(fleet: Fleet) -> None:
    names = list(fleet.stores)
    queue, close = open_queue(fleet.hub)
    try:
        # A slow store, asked first: the worker running it is killed with SIGKILL mid-run.
        slow = names[0]
        store_id, store_hash, _ = fleet.stores[slow]
        httpx_faults(fleet, store_hash, latency_ms=120)
        queue.submit_run(fleet.request_manual([slow])[0])
        workers = [fleet.start_worker(f"w{n}", concurrency=3) for n in range(3)]
        # The storm: every store asked by hand three times (merged), half of them by
        # webhooks too, a third by their schedule, all at once.
        fleet.make_slots_due(names[1::3])
        for _ in range(3):
            for run_id in fleet.request_manual(names[1:]):
                queue.submit_run(run_id)
        fleet.webhook_events(names[::2], serial=1)
        queue.submit_inbox()
        victim = _worker_holding(fleet, store_id, workers, timeout=30)
        time.sleep(0.5)  # into the run's partner calls
        fleet.kill(victim)
        httpx_faults(fleet, store_hash, latency_ms=0)
        fleet.wait_idle(timeout=120)
    finally:
        close()

    runs = fleet.runs()
    statuses: dict[str, int] = defaultdict(int)
    for run in runs:
        statuses[run.status] += 1
    assert statuses["running"] == 0 and statuses["queued"] == 0
    # Every run completed: all succeeded but those the killed worker was running
    # (the slow store's among them), interrupted and resumed by a run that succeeded.
    by_id = {r.id: r for r in runs}
    interrupted = [r for r in runs if r.status == "interrupted"]
    assert store_id in {r.store_id for r in interrupted}
    assert 1 <= len(interrupted) <= 3  # at most the victim's concurrency
    for run in interrupted:
        assert run.resumed_by is not None
        assert by_id[run.resumed_by].status == "succeeded"
    assert {r.status for r in runs} == {"succeeded", "interrupted"}, statuses
    triggers = {r.trigger for r in runs}
    assert {Trigger.MANUAL.value, Trigger.SCHEDULE.value, Trigger.WEBHOOK.value} <= triggers
    assert_never_overlapping(fleet)
    # Every web order posted exactly once, the killed run's included.
    receipts = fleet.receipts()
    assert len(receipts) == fleet.orders
    assert set(receipts.values()) == {1}
    # No account answered more than one 429 (the shared ledger paces the realms, which
    # several stores and workers call at once).
    assert max(fleet.throttled().values()) <= 1, fleet.throttled()
    # Each due slot was queued once.
    assert set(fleet.scheduled_runs(names[1::3]).values()) == {1}

    # The scheduler's tick: kill one of the two workers left (each runs the periodic
    # deferrer; there is no holder to elect), the last one queues the next due slots at
    # its next tick, each once.
    alive = [w for w in workers if w.poll() is None]
    assert len(alive) == 2
    fleet.kill(alive[0])
    some = names[:3]
    before = fleet.scheduled_runs(some)
    fleet.make_slots_due(some)
    fleet.wait_for(
        lambda: all(fleet.scheduled_runs(some)[n] > before[n] for n in some),
        timeout=30,
        what="the surviving worker queues the due slots",
    )
    fleet.wait_idle(timeout=60)
    # A few more ticks of the survivor (one a second) must not queue a slot again.
    settle_until = time.monotonic() + 2.5
    while time.monotonic() < settle_until:
        time.sleep(0.5)
    after = fleet.scheduled_runs(some)
    assert {n: after[n] - before[n] for n in some} == dict.fromkeys(some, 1)


def _worker_holding(
    fleet: Fleet, store_id: int, workers: list[Popen[bytes]], timeout: float
) -> Popen[bytes]:
    """The worker process whose run holds ``store_id``'s lease (waits for one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with fleet.hub.uow() as uow:
            holder = uow.session.scalar(
                select(StoreLease.holder).where(StoreLease.store_id == store_id)
            )
        if holder:
            pid = int(holder.split(":")[1])
            for worker in workers:
                if worker.pid == pid:
                    return worker
        time.sleep(0.05)
    raise AssertionError(f"no worker took store {store_id} within {timeout} s")


def httpx_faults(fleet: Fleet, store_hash: str, *, latency_ms: int) -> None:
    import httpx

    httpx.post(
        f"{fleet.bc_server.url}/admin/stores/{store_hash}/faults",
        json={"latency_ms": latency_ms},
        timeout=10,
    ).raise_for_status()
