"""The figures behind the dashboard's charts: per store over the last 30 days, per day
(store time) items pushed, orders posted, run outcomes, the drift measured and the
lag of webhook-started runs; per run its duration.

Read from the run history (``sync_runs.progress``: what each step did) and the drift
measurements (``drift_checks``); nothing is computed the runs did not record. Partner
calls per run are not recorded by the runs, so there is no such series.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import select

from stockbridge.bootstrap import Hub
from stockbridge.db.models import DriftCheck, SyncRun
from stockbridge.services.stores import find_store

__all__ = ["DAYS", "MAX_RUNS", "OUTCOMES", "RunPoint", "StoreCharts", "store_charts"]

DAYS = 30
#: The newest runs the charts read (a busy store's webhook runs are many).
MAX_RUNS = 5000


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One finished run: its id, when it started, how long it took, how it ended."""

    run_id: int
    started_at: datetime
    seconds: float
    status: str
    trigger: str


@dataclass
class StoreCharts:
    """Per day (oldest first, ``days``) and per run (oldest first, ``runs``)."""

    days: list[date]
    pushed: list[int]
    posted: list[int]
    outcomes: dict[str, list[int]]
    #: the largest drift measured that day (None: not measured)
    drift: list[int | None]
    #: median seconds from a webhook-started run's request to its end (None: no such run)
    webhook_lag: list[float | None]
    runs: list[RunPoint] = field(default_factory=list)


OUTCOMES = ("succeeded", "partial", "failed")


def store_charts(hub: Hub, store_name: str, now: datetime | None = None) -> StoreCharts:
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        uow.read_only()
        store = find_store(uow, store_name)
        zone = ZoneInfo(store.timezone or "UTC")
        since = now - timedelta(days=DAYS)
        runs = uow.session.execute(
            select(
                SyncRun.id,
                SyncRun.trigger,
                SyncRun.status,
                SyncRun.requested_at,
                SyncRun.started_at,
                SyncRun.finished_at,
                SyncRun.progress,
            )
            .where(SyncRun.store_id == store.id, SyncRun.finished_at >= since)
            .order_by(SyncRun.finished_at.desc())
            .limit(MAX_RUNS)
        ).all()
        drift_rows = uow.session.execute(
            select(
                DriftCheck.checked_at,
                DriftCheck.drifted + DriftCheck.web_only + DriftCheck.hub_only,
            ).where(
                DriftCheck.store_id == store.id,
                DriftCheck.checked_at >= since,
                DriftCheck.source != "repair",
            )
        ).all()
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    index = {day: n for n, day in enumerate(days)}
    pushed, posted = [0] * DAYS, [0] * DAYS
    outcomes = {name: [0] * DAYS for name in OUTCOMES}
    lags: dict[int, list[float]] = defaultdict(list)
    points: list[RunPoint] = []
    for run_id, trigger, status, requested, started, finished, progress in runs:
        n = index.get(finished.astimezone(zone).date())
        if n is None:
            continue
        steps = progress or {}
        pushed[n] += int(steps.get("inventory-out", {}).get("done") or 0)
        posted[n] += int(steps.get("orders-out", {}).get("done") or 0)
        if status in outcomes:
            outcomes[status][n] += 1
        if trigger == "webhook" and requested is not None:
            lags[n].append((finished - requested).total_seconds())
        if started is not None:
            points.append(
                RunPoint(run_id, started, (finished - started).total_seconds(), status, trigger)
            )
    drift: list[int | None] = [None] * DAYS
    for checked_at, count in drift_rows:
        n = index.get(checked_at.astimezone(zone).date())
        if n is not None:
            drift[n] = max(drift[n] or 0, int(count))
    points.sort(key=lambda p: (p.started_at, p.run_id))
    return StoreCharts(
        days=days,
        pushed=pushed,
        posted=posted,
        outcomes=outcomes,
        drift=drift,
        webhook_lag=[round(median(lags[n]), 3) if lags.get(n) else None for n in range(DAYS)],
        runs=points,
    )
