"""Alert incidents and the run facts the alerter decides on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from stockbridge.db.catalog_stock import POSTABLE_STATUSES
from stockbridge.db.models import AlertIncident, DriftCheck, Order, RunError, Store, SyncRun
from stockbridge.domain.model import RunStatus, Trigger
from stockbridge.domain.orders import PostState

__all__ = ["COMPLETED", "FINISHED", "WAITING", "AlertRepository"]

#: A run that went to its end: item errors (partial) are retried by the next run and shown
#: on the dashboard; they are not an outage.
COMPLETED = (RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value)
FINISHED = (*COMPLETED, RunStatus.FAILED.value)
#: Orders on their way to the back office and not there yet.
WAITING = (PostState.PENDING.value, PostState.UNCERTAIN.value)


class AlertRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_stores(self) -> Sequence[Store]:
        """Every store, locked until the transaction ends (PostgreSQL: row locks; SQLite's
        write transaction is exclusive already), so two alert checks never both open the
        same incident. Read the open incidents after this."""
        return self.session.scalars(select(Store).order_by(Store.id).with_for_update()).all()

    def last_completed_at(self) -> dict[int, datetime]:
        """Per store: when its latest completed run (any trigger) finished."""
        rows = self.session.execute(
            select(SyncRun.store_id, func.max(SyncRun.finished_at))
            .where(SyncRun.status.in_(COMPLETED), SyncRun.finished_at.is_not(None))
            .group_by(SyncRun.store_id)
        ).all()
        return {store_id: at for store_id, at in rows if at is not None}

    def last_scheduled_failure_at(self) -> dict[int, datetime]:
        """Per store: when its latest failed scheduled run finished."""
        rows = self.session.execute(
            select(SyncRun.store_id, func.max(SyncRun.finished_at))
            .where(
                SyncRun.status == RunStatus.FAILED.value,
                SyncRun.trigger == Trigger.SCHEDULE.value,
                SyncRun.finished_at.is_not(None),
            )
            .group_by(SyncRun.store_id)
        ).all()
        return {store_id: at for store_id, at in rows if at is not None}

    def last_scheduled_failure(self, store_id: int) -> SyncRun | None:
        return self.session.scalar(
            select(SyncRun)
            .where(
                SyncRun.store_id == store_id,
                SyncRun.status == RunStatus.FAILED.value,
                SyncRun.trigger == Trigger.SCHEDULE.value,
                SyncRun.finished_at.is_not(None),
            )
            .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
            .limit(1)
        )

    def stores_last_partial(self) -> set[int]:
        """Stores whose latest finished run ended partial (some items failed)."""
        latest = (
            select(SyncRun.store_id, func.max(SyncRun.id).label("run_id"))
            .where(SyncRun.status.in_(FINISHED))
            .group_by(SyncRun.store_id)
            .subquery()
        )
        return set(
            self.session.scalars(
                select(SyncRun.store_id)
                .join(latest, latest.c.run_id == SyncRun.id)
                .where(SyncRun.status == RunStatus.PARTIAL.value)
            )
        )

    def recent_runs(self, store_id: int, limit: int) -> list[tuple[int, str]]:
        """(run id, steps as stored) of the store's latest finished runs, newest first."""
        rows = self.session.execute(
            select(SyncRun.id, SyncRun.steps)
            .where(SyncRun.store_id == store_id, SyncRun.status.in_(FINISHED))
            .order_by(SyncRun.id.desc())
            .limit(limit)
        )
        return [(run_id, steps) for run_id, steps in rows]

    def item_errors_of(self, run_ids: Sequence[int]) -> dict[int, dict[tuple[str, str], str]]:
        """Per run: (step, item key) -> the message, for each item that failed."""
        found: dict[int, dict[tuple[str, str], str]] = {run_id: {} for run_id in run_ids}
        for start in range(0, len(run_ids), 500):
            rows = self.session.execute(
                select(RunError.run_id, RunError.step, RunError.item_key, RunError.message)
                .where(RunError.run_id.in_(list(run_ids[start : start + 500])))
                .order_by(RunError.id)
            )
            for run_id, step, key, message in rows:
                found[run_id].setdefault((step, key), message)
        return found

    def oldest_waiting_orders(self) -> dict[int, datetime]:
        """Per store: when the hub took in its oldest web order still on its way to the
        back office (pending or uncertain, in a status that belongs there)."""
        rows = self.session.execute(
            select(Order.store_id, func.min(Order.created_at))
            .where(Order.post_state.in_(WAITING), Order.status.in_(POSTABLE_STATUSES))
            .group_by(Order.store_id)
        )
        return {store_id: at for store_id, at in rows if at is not None}

    def waiting_orders(
        self, store_id: int, taken_in_before: datetime, limit: int
    ) -> tuple[int, Sequence[Order]]:
        """(how many, the oldest ``limit``) of the store's web orders on their way to the
        back office since before ``taken_in_before``."""
        where = (
            Order.store_id == store_id,
            Order.post_state.in_(WAITING),
            Order.status.in_(POSTABLE_STATUSES),
            Order.created_at < taken_in_before,
        )
        count = self.session.scalar(select(func.count(Order.id)).where(*where)) or 0
        oldest = self.session.scalars(
            select(Order).where(*where).order_by(Order.created_at, Order.id).limit(limit)
        ).all()
        return int(count), oldest

    def recent_drift(self, store_id: int, limit: int) -> list[int]:
        """The store's latest drift measurements (SKUs), newest first: the drift
        reports' and inventory-in's, not a repair's record of what it pushed."""
        rows = self.session.execute(
            select(DriftCheck.drifted + DriftCheck.web_only + DriftCheck.hub_only)
            .where(DriftCheck.store_id == store_id, DriftCheck.source != "repair")
            .order_by(DriftCheck.checked_at.desc(), DriftCheck.id.desc())
            .limit(limit)
        ).all()
        return [int(count) for (count,) in rows]

    def open_incidents(self) -> dict[tuple[int, str], AlertIncident]:
        """Open incidents by (store id, kind)."""
        rows = self.session.scalars(
            select(AlertIncident).where(AlertIncident.resolved_at.is_(None))
        ).all()
        return {(row.store_id, row.kind): row for row in rows}

    def open(self, store_id: int, kind: str, detail: str, now: datetime) -> AlertIncident:
        incident = AlertIncident(store_id=store_id, kind=kind, detail=detail, opened_at=now)
        self.session.add(incident)
        self.session.flush()
        return incident

    def unnotified(self) -> Sequence[tuple[AlertIncident, Store]]:
        """Open incidents the merchant has not been told about yet, oldest first."""
        rows = self.session.execute(
            select(AlertIncident, Store)
            .join(Store, Store.id == AlertIncident.store_id)
            .where(AlertIncident.resolved_at.is_(None), AlertIncident.notified_at.is_(None))
            .order_by(AlertIncident.id)
        ).all()
        return [(incident, store) for incident, store in rows]

    def mark_delivered(self, incident_id: int, channel: str) -> None:
        """Record that ``channel`` took the incident's alert (before the others may)."""
        incident = self.session.get(AlertIncident, incident_id)
        if incident is not None:
            channels = set(filter(None, incident.delivered_channels.split(",")))
            incident.delivered_channels = ",".join(sorted(channels | {channel}))

    def mark_notified(self, incident_id: int, now: datetime) -> bool:
        result = self.session.execute(
            update(AlertIncident)
            .where(AlertIncident.id == incident_id, AlertIncident.notified_at.is_(None))
            .values(notified_at=now)
        )
        return isinstance(result, CursorResult) and result.rowcount == 1
