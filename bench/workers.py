"""Scaled mode: stores fully synced per minute with 1, 2, 4 and 8 ``stockbridge worker``
processes against sandboxes that answer after a partner's realistic delay, side by side
in one run, and the partner quotas held by 4 workers sharing accounts.

Delays (``partner_delay.py``): every BigCommerce call waits a log-normal time of median
150 ms, p95 400 ms; every QuickBooks Online call median 250 ms, p95 600 ms (assumed from
the 100-500 ms range real partners answer in; ``--bigcommerce-ms``/``--qbo-ms`` change
them, ``0,0`` turns them off). Against microsecond sandboxes one worker fills the cores
and the curve says nothing; with partner delays a run mostly waits, as it will in
production, and more workers overlap those waits until the cores or the database are
full.

A PostgreSQL database of its own (created and dropped here, so its statistics are this
bench's only) holds a fleet of stores on the BigCommerce sandbox, several stores per
QuickBooks sandbox company (realm). For each worker count: the workers are started and
registered first (their start-up is not timed), then every store gets new web orders and
a manual Sync All; the clock stops when no run, inbox event or job is left. Reported per
round: stores synced per minute, efficiency against the one-worker figure times the
worker count, database transactions and table scans per run (``pg_stat_database``,
``pg_stat_user_tables``: pg_stat_statements is not loaded on this server, so statements
are not counted one by one), the database's share of the time (its ``active_time`` over
the runs' summed wall time), how many cores the database kept busy (``active_time`` over
the round's wall time) and how busy the machine's cores were (``/proc/stat``). The limit
is named from those measurements: the first worker count whose efficiency falls under
80%, and whether the database or the machine's cores were full there.

Quotas: then 4 workers sync stores that all share ONE realm (sandbox limits on: 10/s,
500/min, 40 batches/min, 10 in flight) and one BigCommerce store with a tiny quota; the
429s each account answered are counted (the shared ledger should leave none).

Checks: every run of every round succeeded, every order posted exactly once (receipts
per DocNumber), no store had two runs at once, at most one 429 per account.

    python -m bench workers                      # 50 stores, 1/2/4/8 workers
    python -m bench workers --stores 500         # the 500-store size (long)
    python -m bench workers --stores 12 --workers 1,2   # the smoke's size
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.checks import Checks
from bench.fleet import Fleet, start_fleet
from bench.partner_delay import BIGCOMMERCE, QBO, LogNormal, parse_profile
from stockbridge.jobs.scaled import open_queue

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Round:
    workers: int
    stores: int
    runs: int
    seconds: float
    transactions: int
    scans: int
    db_active_ms: float
    run_seconds: float
    cpu_busy: float  # share of all the machine's cores busy during the round

    @property
    def db_cores(self) -> float:
        """Cores the database kept busy, on average over the round."""
        return self.db_active_ms / 1000 / self.seconds if self.seconds else 0.0

    @property
    def per_minute(self) -> float:
        return self.stores / self.seconds * 60

    @property
    def db_share(self) -> float:
        return self.db_active_ms / 1000 / self.run_seconds if self.run_seconds else 0.0


def db_counters(fleet: Fleet) -> tuple[int, int, float]:
    with fleet.hub.engine.connect() as db:
        db.execute(text("SELECT pg_stat_clear_snapshot()"))
        xacts, active = db.execute(
            text(
                "SELECT xact_commit + xact_rollback, coalesce(active_time, 0) "
                "FROM pg_stat_database WHERE datname = current_database()"
            )
        ).one()
        scans = db.execute(
            text(
                "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
                "FROM pg_stat_user_tables"
            )
        ).scalar_one()
    return int(xacts), int(scans), float(active)


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [float(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def add_orders(fleet: Fleet, per_store: int) -> int:
    added = 0
    with httpx.Client(base_url=fleet.bc_server.url, timeout=30) as admin:
        for _name, (_id, store_hash, realm) in fleet.stores.items():
            for n in range(per_store):
                admin.post(
                    f"/admin/stores/{store_hash}/orders",
                    json={"status_id": 11, "lines": [{"sku": f"R{realm}-{n % 3}", "quantity": 1}]},
                ).raise_for_status()
                added += 1
    return added


def workers_alive(fleet: Fleet) -> int:
    with fleet.hub.engine.connect() as db:
        return int(
            db.execute(
                text(
                    "SELECT count(*) FROM procrastinate_workers "
                    "WHERE last_heartbeat > now() - interval '5 seconds'"
                )
            ).scalar_one()
        )


def run_round(fleet: Fleet, workers: int, concurrency: int, timeout: float) -> Round:
    started = [fleet.start_worker(f"r{workers}-{n}", concurrency) for n in range(workers)]
    fleet.wait_for(lambda: workers_alive(fleet) >= workers, 60, "workers registered")
    add_orders(fleet, 2)
    first_run = max((r.id for r in fleet.runs()), default=0)
    time.sleep(1.2)  # statistics are flushed about once a second
    xacts0, scans0, active0 = db_counters(fleet)
    queue, close = open_queue(fleet.hub)
    try:
        busy0, total0 = cpu_times()
        clock = time.monotonic()
        for run_id in fleet.request_manual():
            queue.submit_run(run_id)
        seconds = fleet.wait_idle(timeout, poll=0.1)
        seconds = time.monotonic() - clock
        busy1, total1 = cpu_times()
    finally:
        close()
    time.sleep(1.2)
    xacts1, scans1, active1 = db_counters(fleet)
    del started
    fleet.stop_workers()
    fleet.workers.clear()
    runs = [r for r in fleet.runs() if r.id > first_run]
    run_seconds = sum(
        (r.finished_at - r.started_at).total_seconds()
        for r in runs
        if r.started_at and r.finished_at
    )
    return Round(
        workers,
        len(fleet.stores),
        len(runs),
        seconds,
        xacts1 - xacts0,
        scans1 - scans0,
        active1 - active0,
        run_seconds,
        (busy1 - busy0) / max(total1 - total0, 1.0),
    )


def limit_reached(rounds: Sequence[Round], base: float) -> str:
    """What limited the curve, from the measurements: the first worker count under 80%
    efficiency, and whether the database (its busy cores) or the machine's cores were
    full there. Nothing is extrapolated."""
    cores = os.cpu_count() or 1
    for r in rounds:
        if r.per_minute / (base * r.workers) < 0.8:
            if r.db_cores >= 0.8 * cores:
                what = f"the database (busy {r.db_cores:.2f} of {cores} cores)"
            elif r.cpu_busy >= 0.9:
                what = (
                    f"the machine's cores ({r.cpu_busy:.0%} busy; the database {r.db_cores:.2f} "
                    "cores of that): workers, sandboxes and PostgreSQL share them"
                )
            else:
                what = "neither the database nor the cores were full (partner waits, queueing)"
            return f"limit: below 80% efficiency from {r.workers} workers; bound by {what}"
    return f"limit: not reached up to {rounds[-1].workers} workers (efficiency >= 80%)"


def never_overlapping(fleet: Fleet) -> bool:
    spans = defaultdict(list)
    for run in fleet.runs():
        if run.started_at and run.finished_at:
            spans[run.store_id].append((run.started_at, run.finished_at))
    return all(b[0] >= a[1] for rows in spans.values() for a, b in itertools.pairwise(sorted(rows)))


def quota_round(
    home: Path, url: str, stores: int, timeout: float, delays: tuple[LogNormal, LogNormal]
) -> dict[str, int]:
    """4 workers, ``stores`` stores on ONE realm (limits on), store 0 on a tiny quota."""
    fleet = start_fleet(home, url, stores=stores, realms=1, bc_quota=40, delays=delays)
    try:
        for realm in fleet.realms:
            realm.sandbox.limits.enabled = True
        httpx.post(
            f"{fleet.bc_server.url}/admin/stores/{fleet.stores['shop000'][1]}/faults",
            json={"quota": 12, "window_ms": 3000},
        ).raise_for_status()
        add_orders(fleet, 2)
        workers = [fleet.start_worker(f"q{n}", 3) for n in range(4)]
        fleet.wait_for(lambda: workers_alive(fleet) >= 4, 60, "workers registered")
        queue, close = open_queue(fleet.hub)
        try:
            for _ in range(2):
                for run_id in fleet.request_manual():
                    queue.submit_run(run_id)
            fleet.wait_idle(timeout)
        finally:
            close()
        del workers
        counts = fleet.throttled()
        counts["failed_runs"] = sum(1 for r in fleet.runs() if r.status != "succeeded")
        return counts
    finally:
        fleet.close()


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench workers")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--realms", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument(
        "--bigcommerce-ms", type=parse_profile, default=BIGCOMMERCE, help="MEDIAN,P95 delay"
    )
    parser.add_argument("--qbo-ms", type=parse_profile, default=QBO, help="MEDIAN,P95 delay")
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--quota-stores", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(list(argv))
    counts = [int(n) for n in args.workers.split(",")]
    delays = (args.bigcommerce_ms, args.qbo_ms)
    checks = Checks("workers")
    name = f"stockbridge_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    rounds: list[Round] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fleet = start_fleet(
                Path(tmp) / "home", url, stores=args.stores, realms=args.realms, delays=delays
            )
            try:
                for n in counts:
                    rounds.append(run_round(fleet, n, args.concurrency, args.timeout))
                runs = fleet.runs()
                statuses = {r.status for r in runs}
                checks.equal(statuses, {"succeeded"}, "every run of every round succeeded")
                receipts = fleet.receipts()
                checks.equal(
                    len(receipts),
                    fleet.orders + 2 * len(fleet.stores) * len(counts),
                    "receipts (one per web order)",
                )
                checks.equal(set(receipts.values()), {1}, "receipts per DocNumber")
                checks.expect(never_overlapping(fleet), "no store had two runs at once")
                checks.expect(
                    max(fleet.throttled().values()) <= 1, f"429s per account {fleet.throttled()}"
                )
            finally:
                fleet.close()
            with admin.connect() as db:
                db.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                db.execute(text(f'CREATE DATABASE "{name}"'))
            quota = quota_round(Path(tmp) / "quota", url, args.quota_stores, args.timeout, delays)
    finally:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    base = rounds[0].per_minute / rounds[0].workers
    print(
        f"scaled mode: {args.stores} stores, {args.realms} realms, concurrency "
        f"{args.concurrency} per worker (this machine: {os.cpu_count()} cores, shared); "
        f"partner delays: BigCommerce {args.bigcommerce_ms.label()}, QuickBooks Online "
        f"{args.qbo_ms.label()}"
    )
    print("workers  stores/min  efficiency  runs  tx/run  scans/run  db share  db cores  cpu busy")
    for r in rounds:
        print(
            f"{r.workers:>7}  {r.per_minute:>10.1f}  {r.per_minute / (base * r.workers):>10.0%}"
            f"  {r.runs:>4}  {r.transactions / max(r.runs, 1):>6.0f}  "
            f"{r.scans / max(r.runs, 1):>9.0f}  {r.db_share:>8.1%}  {r.db_cores:>8.2f}"
            f"  {r.cpu_busy:>8.0%}"
        )
    print(limit_reached(rounds, base))
    print(
        f"quotas, 4 workers, {args.quota_stores} stores on one realm: 429s qbo "
        f"{quota.get('qbo:0')}, BigCommerce store on a 12-per-3-s quota "
        f"{quota.get('bigcommerce:h000')}; runs not succeeded {quota['failed_runs']}"
    )
    checks.equal(
        max(v for k, v in quota.items() if ":" in k), 0, f"quota round: no 429 at all {quota}"
    )
    checks.equal(quota["failed_runs"], 0, "quota round: every run succeeded")
    checks.expect(all(r.runs >= r.stores for r in rounds), "every store synced in each round")
    return checks.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
