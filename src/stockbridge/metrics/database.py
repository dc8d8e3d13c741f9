"""Gauges about recorded work, read from the database when scraped, so every node
reports the truth: inbox depth, runs queued or running, and the seconds since a store's
last successful sync, and each store's drift (SKUs, as last measured).

In scaled mode (PostgreSQL with procrastinate's tables) also the job queue: jobs per
queue and status (waiting = queue depth, running), the oldest waiting job's age, jobs
of dead workers (stalled) and the workers alive.

Store names are the hub's customers: the per-store lag (``stockbridge_sync_lag_seconds``
with a ``store`` label) is only for a scraper with the metrics token; anyone else gets
the worst store's lag (``stockbridge_sync_lag_max_seconds``) without names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from stockbridge.db.models import DriftCheck, InboxEvent, Store, SyncRun
from stockbridge.db.uow import UnitOfWork

__all__ = ["STALLED_SECONDS", "register_database_gauges"]

#: A worker silent this long counts as dead (the workers' default stalled timeout).
STALLED_SECONDS = 30.0


class _DatabaseGauges(Collector):
    def __init__(self, uow: Callable[[], UnitOfWork], *, per_store: bool) -> None:
        self.uow = uow
        self.per_store = per_store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("stockbridge_inbox_depth", "Inbox events not processed yet")
        lag = GaugeMetricFamily(
            "stockbridge_sync_lag_seconds",
            "Seconds since the store's last successful sync run",
            labels=["store"],
        )
        queued = GaugeMetricFamily("stockbridge_runs_queued", "Runs queued or running")
        drift = GaugeMetricFamily(
            "stockbridge_drift_skus",
            "SKUs whose web stock drifted from the hub's, as last measured",
            labels=["store"],
        )
        webhooks = GaugeMetricFamily(
            "stockbridge_webhook_events_24h",
            "Inventory webhook events of the last 24 hours per store: echo (the hub's own "
            "write, confirmed and dropped), run (started a run), coalesced (into a run)",
            labels=["store", "outcome"],
        )
        now = datetime.now(UTC)
        with self.uow() as uow:
            session = uow.session
            if self.per_store:
                for name, outcome, count in session.execute(
                    select(Store.name, InboxEvent.outcome, func.count(InboxEvent.id))
                    .join(InboxEvent, InboxEvent.store_id == Store.id)
                    .where(
                        InboxEvent.processed_at >= now - timedelta(hours=24),
                        InboxEvent.outcome.is_not(None),
                    )
                    .group_by(Store.name, InboxEvent.outcome)
                ):
                    webhooks.add_metric([name, str(outcome)], count)
            depth.add_metric(
                [],
                session.scalar(
                    select(func.count(InboxEvent.id)).where(InboxEvent.processed_at.is_(None))
                )
                or 0,
            )
            queued.add_metric(
                [],
                session.scalar(
                    select(func.count(SyncRun.id)).where(SyncRun.status.in_(("queued", "running")))
                )
                or 0,
            )
            rows = session.execute(
                select(Store.name, func.max(SyncRun.finished_at))
                .join(
                    SyncRun,
                    (SyncRun.store_id == Store.id) & (SyncRun.status == "succeeded"),
                    isouter=True,
                )
                .group_by(Store.name)
            ).all()
            latest = (
                select(func.max(DriftCheck.id).label("id"))
                .where(DriftCheck.source != "repair")
                .group_by(DriftCheck.store_id)
                .subquery()
            )
            drifts = session.execute(
                select(Store.name, DriftCheck.drifted + DriftCheck.web_only + DriftCheck.hub_only)
                .join(DriftCheck, DriftCheck.store_id == Store.id)
                .join(latest, latest.c.id == DriftCheck.id)
            ).all()
        lags: list[float] = []
        for name, last in rows:
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            lags.append((now - last).total_seconds() if last else float("inf"))
            lag.add_metric([name], lags[-1])
        yield depth
        yield queued
        for name, count in drifts:
            drift.add_metric([name], count)
        yield from self._jobs()
        if self.per_store:
            yield lag
            yield drift
            yield webhooks
        else:
            worst = GaugeMetricFamily(
                "stockbridge_sync_lag_max_seconds",
                "Seconds since a successful sync run, for the store that waited longest",
            )
            worst.add_metric([], max(lags, default=0.0))
            yield worst
            most = GaugeMetricFamily(
                "stockbridge_drift_skus_max",
                "SKUs whose web stock drifted from the hub's, for the store that drifted most",
            )
            most.add_metric([], max((count for _name, count in drifts), default=0))
            yield most

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        with self.uow() as uow:
            session = uow.session
            if session.get_bind().dialect.name != "postgresql" or not session.scalar(
                text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            ):
                return
            by_status = session.execute(
                text(
                    "SELECT queue_name, status, count(*) FROM procrastinate_jobs "
                    "WHERE status IN ('todo', 'doing') GROUP BY queue_name, status"
                )
            ).all()
            oldest = session.scalar(
                text(
                    "SELECT coalesce(extract(epoch FROM now() - min(scheduled_at)), 0) "
                    "FROM procrastinate_jobs WHERE status = 'todo' AND "
                    "(scheduled_at IS NULL OR scheduled_at <= now())"
                )
            )
            stalled = session.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs j LEFT JOIN "
                    "procrastinate_workers w ON w.id = j.worker_id WHERE j.status = 'doing' "
                    "AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :s))"
                ),
                {"s": STALLED_SECONDS},
            )
            workers = session.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_workers "
                    "WHERE last_heartbeat >= now() - make_interval(secs => :s)"
                ),
                {"s": STALLED_SECONDS},
            )
        jobs = GaugeMetricFamily(
            "stockbridge_jobs",
            "Scaled mode: jobs waiting (todo: the queue depth) or running (doing), per queue",
            labels=["queue", "status"],
        )
        for queue, status, count in by_status:
            jobs.add_metric([queue, status], count)
        yield jobs
        waiting = GaugeMetricFamily(
            "stockbridge_jobs_oldest_waiting_seconds",
            "Scaled mode: how long the oldest job due has waited for a worker",
        )
        waiting.add_metric([], float(oldest or 0))
        yield waiting
        dead = GaugeMetricFamily(
            "stockbridge_jobs_stalled",
            "Scaled mode: jobs running on a worker with no heartbeat (retried by the tick)",
        )
        dead.add_metric([], stalled or 0)
        yield dead
        alive = GaugeMetricFamily(
            "stockbridge_workers_alive", "Scaled mode: workers with a recent heartbeat"
        )
        alive.add_metric([], workers or 0)
        yield alive


def register_database_gauges(
    registry: CollectorRegistry, uow: Callable[[], UnitOfWork], *, per_store: bool = True
) -> None:
    """Gauges read from the database at each scrape; ``per_store`` off: no store names."""
    registry.register(_DatabaseGauges(uow, per_store=per_store))
