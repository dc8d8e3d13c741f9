"""Sync runs: requesting (with merging), per-store leases, progress, errors and history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from stockbridge.db.models import RunError, StoreLease, SyncRun
from stockbridge.domain.model import ItemError, RunStatus, Step, Trigger
from stockbridge.domain.runs import RunRecord

__all__ = ["RunRepository"]


def _steps_text(steps: Sequence[Step]) -> str:
    return ",".join(step.value for step in steps)


def parse_steps(text: str) -> tuple[Step, ...]:
    return tuple(Step(part) for part in text.split(",") if part)


class RunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def request(
        self,
        store_id: int,
        steps: Sequence[Step],
        trigger: Trigger,
        targets: Collection[str] | None = None,
    ) -> tuple[SyncRun, bool]:
        """A queued run that will do ``steps``: an already queued run with the same trigger
        that covers them (the request is merged into it), or a new one. Returns
        (run, merged). Runs of different triggers stay apart, so "last manual sync" is true.

        ``targets`` (web product ids) limits the run to those products' stock: it merges
        only into a queued run that is targeted too (the union is kept), and a whole-store
        request only into a whole-store run.
        """
        wanted = set(steps)
        for run in self.session.scalars(
            select(SyncRun)
            .where(SyncRun.store_id == store_id, SyncRun.status == RunStatus.QUEUED.value)
            .order_by(SyncRun.id)
        ):
            if (
                run.trigger != trigger.value
                or not wanted <= set(parse_steps(run.steps))
                or (run.targets is None) != (targets is None)
            ):
                continue
            values: dict[str, Any] = {"merged_requests": SyncRun.merged_requests + 1}
            if targets is not None and run.targets is not None:
                values["targets"] = sorted(set(run.targets) | set(targets))
            # Merge only while it is still queued: a worker may be claiming it right
            # now (on PostgreSQL this waits for that claim and then sees it).
            merged = self.session.execute(
                update(SyncRun)
                .where(SyncRun.id == run.id, SyncRun.status == RunStatus.QUEUED.value)
                .values(**values)
            )
            if _rowcount(merged) == 1:
                return run, True
        run = SyncRun(
            store_id=store_id,
            trigger=trigger.value,
            steps=_steps_text(steps),
            status=RunStatus.QUEUED.value,
            requested_at=datetime.now(UTC),
            merged_requests=0,
            progress={},
            targets=None if targets is None else sorted(set(targets)),
        )
        self.session.add(run)
        self.session.flush()
        return run, False

    def queue(
        self,
        store_id: int,
        steps: Sequence[Step],
        trigger: Trigger,
        targets: Collection[str] | None = None,
    ) -> tuple[int, bool]:
        """``request`` as the sync engine's port has it: (run id, merged)."""
        run, merged = self.request(store_id, steps, trigger, targets)
        return run.id, merged

    def get(self, run_id: int) -> SyncRun | None:
        return self.session.get(SyncRun, run_id)

    def record(self, run_id: int) -> RunRecord | None:
        """The run as a domain value; None if there is no such run."""
        run = self.get(run_id)
        return None if run is None else _as_record(run)

    def claim(self, run_id: int) -> bool:
        """Mark a queued run running. Only the lease holder calls this; a run left
        ``running`` by a holder that died is interrupted instead (see sync/recovery.py).
        """
        result = self.session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == RunStatus.QUEUED.value)
            .values(status=RunStatus.RUNNING.value, started_at=datetime.now(UTC))
        )
        return _rowcount(result) == 1

    # interrupted runs (see sync/recovery.py) -----------------------------------

    def running(self, store_id: int | None = None) -> list[RunRecord]:
        query = select(SyncRun).where(SyncRun.status == RunStatus.RUNNING.value)
        if store_id is not None:
            query = query.where(SyncRun.store_id == store_id)
        return [_as_record(run) for run in self.session.scalars(query.order_by(SyncRun.id))]

    def interrupt(self, run_id: int, reason: str) -> bool:
        """Mark a run whose process died ``interrupted`` (finished now); only a run still
        ``running`` changes."""
        result = self.session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == RunStatus.RUNNING.value)
            .values(status=RunStatus.INTERRUPTED.value, finished_at=datetime.now(UTC), error=reason)
        )
        return _rowcount(result) == 1

    def unresumed(self, store_id: int) -> list[RunRecord]:
        """Interrupted runs of the store whose remaining steps no run has taken over."""
        return [
            _as_record(run)
            for run in self.session.scalars(
                select(SyncRun)
                .where(
                    SyncRun.store_id == store_id,
                    SyncRun.status == RunStatus.INTERRUPTED.value,
                    SyncRun.resumed_by.is_(None),
                )
                .order_by(SyncRun.id)
            )
        ]

    def stores_to_resume(self) -> list[int]:
        """Stores with interrupted runs nobody resumes and no run queued or running (which
        would take them over when it takes the lease)."""
        busy = select(SyncRun.store_id).where(
            SyncRun.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value))
        )
        return list(
            self.session.scalars(
                select(SyncRun.store_id)
                .where(
                    SyncRun.status == RunStatus.INTERRUPTED.value,
                    SyncRun.resumed_by.is_(None),
                    SyncRun.store_id.not_in(busy),
                )
                .distinct()
                .order_by(SyncRun.store_id)
            )
        )

    def take_over(self, run_id: int, steps: Sequence[Step], interrupted: Sequence[int]) -> None:
        """Run ``run_id`` now does ``steps``, which include the remaining steps of the
        ``interrupted`` runs; they point at it."""
        self.session.execute(
            update(SyncRun).where(SyncRun.id == run_id).values(steps=_steps_text(steps))
        )
        if interrupted:
            self.session.execute(
                update(SyncRun)
                .where(SyncRun.id.in_(list(interrupted)), SyncRun.resumed_by.is_(None))
                .values(resumed_by=run_id)
            )

    def lease(self, store_id: int) -> tuple[int | None, str | None, datetime | None]:
        """(run id, holder, expires at) of the store's lease; all None when it is free."""
        lease = self.session.get(StoreLease, store_id)
        if lease is None:
            return None, None, None
        return lease.run_id, lease.holder, lease.expires_at

    def finish(self, run_id: int, status: RunStatus, error: str | None) -> None:
        self.session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(status=status.value, finished_at=datetime.now(UTC), error=error)
        )

    def set_progress(self, run_id: int, progress: dict[str, Any]) -> None:
        self.session.execute(update(SyncRun).where(SyncRun.id == run_id).values(progress=progress))

    def add_errors(self, run_id: int, step: Step, errors: Sequence[ItemError]) -> None:
        now = datetime.now(UTC)
        self.session.add_all(
            RunError(
                run_id=run_id,
                step=step.value,
                item_key=e.key[:255],
                message=e.message,
                code=e.code,
                created_at=now,
            )
            for e in errors
        )

    def errors(self, run_id: int) -> Sequence[RunError]:
        return self.session.scalars(
            select(RunError).where(RunError.run_id == run_id).order_by(RunError.id)
        ).all()

    def item_errors(self, run_id: int) -> list[ItemError]:
        return [ItemError(e.item_key, e.message, e.code) for e in self.errors(run_id)]

    def history(
        self,
        store_id: int | None,
        limit: int = 50,
        *,
        trigger: str | None = None,
        status: str | None = None,
        before: int | None = None,
    ) -> Sequence[SyncRun]:
        """The newest ``limit`` runs (older than run ``before``, when given: the next
        page of a keyset-paged history)."""
        query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
        if before is not None:
            query = query.where(SyncRun.id < before)
        if store_id is not None:
            query = query.where(SyncRun.store_id == store_id)
        if trigger is not None:
            query = query.where(SyncRun.trigger == trigger)
        if status is not None:
            query = query.where(SyncRun.status == status)
        return self.session.scalars(query).all()

    def unfinished(self) -> Sequence[SyncRun]:
        return self.session.scalars(
            select(SyncRun).where(SyncRun.status.in_(("queued", "running"))).order_by(SyncRun.id)
        ).all()

    def last_finished(self, store_id: int, *, manual_only: bool = False) -> Sequence[SyncRun]:
        query = (
            select(SyncRun)
            .where(SyncRun.store_id == store_id, SyncRun.finished_at.is_not(None))
            .order_by(SyncRun.id.desc())
            .limit(200)
        )
        if manual_only:
            query = query.where(SyncRun.trigger == Trigger.MANUAL.value)
        return self.session.scalars(query).all()

    # leases ------------------------------------------------------------------

    def acquire_lease(self, store_id: int, run_id: int, holder: str, seconds: int) -> bool:
        """Take the store's lease for ``run_id`` if it is free, expired, or already ours."""
        now = datetime.now(UTC)
        self._ensure_lease_row(store_id)
        result = self.session.execute(
            update(StoreLease)
            .where(
                StoreLease.store_id == store_id,
                or_(
                    StoreLease.run_id.is_(None),
                    StoreLease.expires_at < now,
                    and_(StoreLease.run_id == run_id, StoreLease.holder == holder),
                ),
            )
            .values(run_id=run_id, holder=holder, expires_at=now + timedelta(seconds=seconds))
        )
        return _rowcount(result) == 1

    def lease_holder(self, store_id: int) -> str | None:
        lease = self.session.get(StoreLease, store_id)
        return lease.holder if lease is not None and lease.run_id is not None else None

    def break_lease(self, store_id: int, holder: str) -> bool:
        """Free a lease whose holder is known to be dead (see the runner)."""
        result = self.session.execute(
            update(StoreLease)
            .where(StoreLease.store_id == store_id, StoreLease.holder == holder)
            .values(run_id=None, holder=None, expires_at=None)
        )
        return _rowcount(result) == 1

    def renew_lease(self, store_id: int, run_id: int, holder: str, seconds: int) -> bool:
        result = self.session.execute(
            update(StoreLease)
            .where(
                StoreLease.store_id == store_id,
                StoreLease.run_id == run_id,
                StoreLease.holder == holder,
            )
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
        )
        return _rowcount(result) == 1

    def release_lease(self, store_id: int, run_id: int, holder: str) -> None:
        self.session.execute(
            update(StoreLease)
            .where(
                StoreLease.store_id == store_id,
                StoreLease.run_id == run_id,
                StoreLease.holder == holder,
            )
            .values(run_id=None, holder=None, expires_at=None)
        )

    def _ensure_lease_row(self, store_id: int) -> None:
        if self.session.get(StoreLease, store_id) is None:
            self.session.add(StoreLease(store_id=store_id))
            self.session.flush()


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _as_record(run: SyncRun) -> RunRecord:
    return RunRecord(
        id=run.id,
        store_id=run.store_id,
        trigger=Trigger(run.trigger),
        steps=parse_steps(run.steps),
        status=RunStatus(run.status),
        progress=dict(run.progress or {}),
        error=run.error,
        targets=None if run.targets is None else tuple(run.targets),
    )
