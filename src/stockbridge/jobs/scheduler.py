"""The scheduler: turns due schedule slots into queued sync runs. It only queues; the
worker executes runs.

Call ``tick(now)`` every few seconds from one process (or several: a slot is claimed in
the database before its run is queued, so concurrent schedulers queue it once). Each
tick, for every enabled schedule with a due slot (see ``domain.schedule.due_slot``):

1. claim the slot: ``last_slot_at`` moves from the value read to the slot, in one
   conditional UPDATE, committed;
2. queue the run through ``request_run(store_id, steps, Trigger.SCHEDULE)`` (which merges
   it into an already queued scheduled run that covers the same steps).

Without a ``request_run`` (how the hub wires it) 1 and 2 are one transaction: a slot is
claimed exactly when its run is queued, so a process dying at any point neither loses
the slot nor queues it twice. With a ``request_run`` of another transaction, a run that
cannot be queued (a database error) gives its slot back, so the next tick tries again;
if the process dies between 1 and 2, that one slot is skipped rather than risk running
it twice.

Stores without any schedule row get the default first (Sync All daily at 01:00 in the
store's time zone), so a store added at any time is scheduled without further steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from stockbridge.db.schedules import DueCandidate
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import Step, Trigger
from stockbridge.domain.schedule import InvalidSchedule, ScheduleSpec, due_slot

__all__ = ["DueSlot", "RequestRun", "Scheduler"]

log = logging.getLogger(__name__)

#: ``SyncRunner.request``: queue a run (or merge into a queued one); returns (run id, merged).
RequestRun = Callable[[int, tuple[Step, ...], Trigger], tuple[int, bool]]


@dataclass(frozen=True, slots=True)
class DueSlot:
    """A slot found due, not yet claimed."""

    candidate: DueCandidate
    slot: datetime
    steps: tuple[Step, ...]


class Scheduler:
    """Queues a run for each due schedule slot, once per slot across every scheduler
    sharing the database."""

    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], request_run: RequestRun | None = None
    ) -> None:
        self.uow = uow_factory
        self.request_run = request_run

    def tick(self, now: datetime) -> list[int]:
        """Queue the runs due at ``now`` (timezone-aware). Returns the queued run ids (a
        request merged into an already queued run gives that run's id)."""
        return self.queue(self.due(now))

    def due(self, now: datetime) -> list[DueSlot]:
        """The slots due at ``now``, one per schedule at most, after giving stores without
        a schedule the default one. Claims nothing."""
        if now.utcoffset() is None:
            raise ValueError("Scheduler.tick needs a timezone-aware now")
        self.ensure_defaults(now)
        with self.uow() as uow:
            candidates = uow.schedules.enabled()
        due: list[DueSlot] = []
        for candidate in candidates:
            try:
                spec = ScheduleSpec.create(
                    candidate.timezone,
                    daily_at=candidate.daily_at,
                    every_minutes=candidate.every_minutes,
                    step=candidate.step,
                    business_days=candidate.business_days,
                    holidays=candidate.holidays,
                )
            except InvalidSchedule as exc:
                log.warning(
                    "schedule %s of store %s skipped: %s",
                    candidate.schedule_id,
                    candidate.store_id,
                    exc,
                )
                continue
            slot = due_slot(spec, candidate.since, now)
            if slot is not None:
                due.append(DueSlot(candidate, slot, spec.steps))
        return due

    def queue(self, due: list[DueSlot]) -> list[int]:
        """Claim each slot and queue its run; slots another scheduler claimed first are
        skipped. Returns the queued run ids."""
        run_ids: list[int] = []
        for item in due:
            candidate = item.candidate
            if self.request_run is None:
                queued = self._claim_and_queue(item)
                if queued is not None and queued not in run_ids:
                    run_ids.append(queued)
                continue
            with self.uow() as uow:
                claimed = uow.schedules.claim_slot(
                    candidate.schedule_id, candidate.last_slot_at, item.slot
                )
                uow.commit()
            if not claimed:
                continue
            try:
                run_id, merged = self.request_run(candidate.store_id, item.steps, Trigger.SCHEDULE)
            except SQLAlchemyError as exc:
                log.error(
                    "could not queue the scheduled run of store %s for %s: %s",
                    candidate.store_id,
                    item.slot.isoformat(),
                    exc,
                )
                with self.uow() as uow:
                    uow.schedules.release_slot(
                        candidate.schedule_id, item.slot, candidate.last_slot_at
                    )
                    uow.commit()
                continue
            log.info(
                "scheduled run %s %s for store %s (slot %s, steps %s)",
                run_id,
                "merged" if merged else "queued",
                candidate.store_id,
                item.slot.isoformat(),
                ",".join(step.value for step in item.steps),
            )
            if run_id not in run_ids:
                run_ids.append(run_id)
        return run_ids

    def _claim_and_queue(self, item: DueSlot) -> int | None:
        """Claim the slot and queue its run in one transaction (None: claimed elsewhere)."""
        candidate = item.candidate
        with self.uow() as uow:
            if not uow.schedules.claim_slot(
                candidate.schedule_id, candidate.last_slot_at, item.slot
            ):
                return None
            run_id, merged = uow.runs.queue(candidate.store_id, item.steps, Trigger.SCHEDULE)
            uow.commit()
        log.info(
            "scheduled run %s %s for store %s (slot %s)",
            run_id,
            "merged" if merged else "queued",
            candidate.store_id,
            item.slot.isoformat(),
        )
        return run_id

    def ensure_defaults(self, now: datetime) -> int:
        """Give every store without a schedule row the default one; returns how many."""
        added = 0
        with self.uow() as uow:
            for store in uow.schedules.stores_without_schedule():
                added += uow.schedules.ensure_default(store, now)
            uow.commit()
        return added
