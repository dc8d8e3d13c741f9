"""Runs whose process died: found, marked ``interrupted`` (with the time), and their
remaining steps resumed by a later run of the same store.

A run is alive only while it holds its store's lease (see ``runner``): the lease names
the run and its holder and is renewed at every checkpoint. A run still marked
``running`` is dead when the lease names another run or nobody, when the lease expired,
or when its holder is a process on this machine that no longer exists (kill -9).

Whoever next takes the store's lease for a run makes that run *take over*: every other
run of the store still marked ``running`` is interrupted (the lease is ours, so nobody
runs them), and the steps the interrupted runs had not finished are added to this run
(``resumed_by`` on the interrupted run names it). Outside any run, ``reap`` marks dead
runs (the service does it on start and on every tick, listings before they show runs)
and ``request_resumptions`` queues a run for stores whose interrupted runs nobody
resumes yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.domain.runs import RunRecord
from stockbridge.ports import UnitOfWork

__all__ = [
    "reap",
    "remaining_steps",
    "remaining_steps_of",
    "request_resumptions",
    "resume_steps",
    "take_over",
]

#: Step statuses that mean the step's work is done (a failed step is tried again).
DONE = frozenset({"succeeded", "partial", "skipped"})

IsDeadHolder = Callable[[str], bool]


def remaining_steps(steps: Iterable[Step], progress: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps of a run that did not finish (not started, running, or failed)."""
    return tuple(s for s in steps if (progress.get(s.value) or {}).get("status") not in DONE)


def resume_steps(own: Iterable[Step], remaining: Iterable[Step]) -> tuple[Step, ...]:
    """``own`` plus ``remaining``, in Sync All's order. When a push to the web
    (inventory-out) is resumed, new web orders are read first (orders-in): orders placed
    while the process was down already took web stock, and the push must withhold them."""
    leftover = set(remaining)
    wanted = set(own) | leftover
    if Step.INVENTORY_OUT in leftover:
        wanted.add(Step.ORDERS_IN)
    return tuple(step for step in SYNC_ALL if step in wanted)


def take_over(uow: UnitOfWork, run: RunRecord) -> list[int]:
    """Call in the unit of work in which ``run`` took its store's lease: interrupt the
    store's other ``running`` runs and give ``run`` the remaining steps of every
    interrupted run not yet resumed. Returns the ids of the runs it resumes."""
    for other in uow.runs.running(run.store_id):
        if other.id != run.id:
            uow.runs.interrupt(
                other.id,
                f"interrupted: its process stopped; run {run.id} took the store's lease",
            )
    interrupted = uow.runs.unresumed(run.store_id)
    if not interrupted:
        return []
    remaining = [step for r in interrupted for step in remaining_steps_of(r)]
    own = run.steps
    steps = resume_steps(own, remaining)
    if set(steps) == set(own):
        steps = own  # nothing to add: keep the order it was requested in
    ids = [r.id for r in interrupted]
    uow.runs.take_over(run.id, steps, ids)
    return ids


def reap(
    uow_factory: Callable[[], UnitOfWork], is_dead_holder: IsDeadHolder, store_id: int | None
) -> int:
    """Mark every dead ``running`` run ``interrupted`` (freeing a lease it still holds).
    Reads first without a write lock; writes only when a run looks dead, checking again
    in the write. Returns how many runs it interrupted."""
    with uow_factory() as uow:
        uow.read_only()
        if not any(_why_dead(uow, run, is_dead_holder) for run in uow.runs.running(store_id)):
            return 0
    interrupted = 0
    with uow_factory() as uow:
        for run in uow.runs.running(store_id):
            why = _why_dead(uow, run, is_dead_holder)
            if why is None:
                continue
            lease_run, holder, _expires = uow.runs.lease(run.store_id)
            if lease_run == run.id and holder is not None:
                uow.runs.break_lease(run.store_id, holder)
            if uow.runs.interrupt(run.id, f"interrupted: {why}"):
                interrupted += 1
        uow.commit()
    return interrupted


def request_resumptions(uow_factory: Callable[[], UnitOfWork]) -> list[int]:
    """Queue a run of the remaining steps for each store that has interrupted runs
    nobody resumes and no run queued or running (which would take them over). Returns
    the ids of the runs queued."""
    queued: list[int] = []
    with uow_factory() as uow:
        for store_id in uow.runs.stores_to_resume():
            interrupted = uow.runs.unresumed(store_id)
            steps = resume_steps((), [s for r in interrupted for s in remaining_steps_of(r)])
            if not steps:  # every step had finished: the next run of the store notes it
                continue
            run_id, _merged = uow.runs.queue(store_id, steps, interrupted[-1].trigger)
            queued.append(run_id)
        uow.commit()
    return queued


def remaining_steps_of(run: RunRecord) -> tuple[Step, ...]:
    return remaining_steps(run.steps, run.progress)


def _why_dead(uow: UnitOfWork, run: RunRecord, is_dead_holder: IsDeadHolder) -> str | None:
    lease_run, holder, expires_at = uow.runs.lease(run.store_id)
    if lease_run != run.id:
        return "its process stopped; it no longer holds the store's lease"
    if expires_at is None or expires_at < datetime.now(UTC):
        return "its process stopped renewing the store's lease, which expired"
    if holder is not None and is_dead_holder(holder):
        return "its process is gone (killed or crashed)"
    return None
