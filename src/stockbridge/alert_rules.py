"""When the alerts about stuck work fire, as pure functions of what the runs and orders
show (the ``Alerter`` in ``alerts.py`` reads the facts and keeps the incidents).

- ``item_failing``: the same item (a step and its key: an order, a SKU) failed in each
  of the last N finished runs that included that step (``failing_item_runs``, default
  3). Runs that did not include the step neither count nor break the streak; a run in
  which the step ran without failing that item breaks it.
- ``orders_pending``: a web order the hub took in longer ago than
  ``pending_order_hours`` (default 24) has still not reached the back office.
- ``stale``: no completed run for ``stale_after_hours``, counted in business days'
  hours (``domain/business_time.py``) when the store's Sync All runs on business days
  only, so a business-day schedule does not alert over a weekend or a holiday.
- ``drift``: the store's drift (SKUs, ``domain/drift.py``) was above ``drift_threshold``
  (default 10) in each of its last ``DRIFT_CHECKS`` measurements (drift reports and
  inventory-in's web reads; a repair's own record does not count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from stockbridge.domain.business_time import business_time_between

__all__ = [
    "DRIFT_CHECKS",
    "FailingItem",
    "WaitingOrder",
    "drift_detail",
    "drift_stays_above",
    "failing_detail",
    "failing_items",
    "pending_detail",
    "stale_elapsed",
]


def stale_elapsed(
    since: datetime,
    now: datetime,
    timezone: str,
    *,
    business_days: bool,
    holidays: tuple[date, ...] = (),
) -> timedelta:
    """The time without a completed sync that counts toward the stale alert: all of it,
    or only business days' (store time) when the store syncs on business days only."""
    if not business_days:
        return now - since
    return business_time_between(since, now, ZoneInfo(timezone), holidays)


#: Measurements in a row the drift must stay above the threshold for an alert.
DRIFT_CHECKS = 3

#: How many of a store's latest runs are looked at for repeated item failures.
RUNS_LOOKED_AT = 200
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class FailingItem:
    step: str
    key: str
    message: str  # from the latest run


@dataclass(frozen=True, slots=True)
class WaitingOrder:
    number: str
    taken_in_at: datetime
    last_error: str | None


def failing_items(
    runs: Sequence[tuple[int, Sequence[str]]],
    errors: Mapping[int, Mapping[tuple[str, str], str]],
    streak: int,
) -> list[FailingItem]:
    """Items that failed in each of the last ``streak`` runs that included their step.
    ``runs``: (run id, its steps), newest first; ``errors``: per run, (step, key) ->
    message. Sorted by step and key."""
    if streak < 1:
        raise ValueError("a streak is at least one run")
    steps = {step for _run, run_steps in runs for step in run_steps}
    found: list[FailingItem] = []
    for step in sorted(steps):
        covering = [run_id for run_id, run_steps in runs if step in run_steps][:streak]
        if len(covering) < streak:
            continue
        keys = {key for s, key in errors.get(covering[0], {}) if s == step}
        for run_id in covering[1:]:
            keys &= {key for s, key in errors.get(run_id, {}) if s == step}
        found.extend(
            FailingItem(step, key, errors[covering[0]][(step, key)]) for key in sorted(keys)
        )
    return found


def failing_detail(store: str, items: Sequence[FailingItem], streak: int) -> str:
    lines = [
        f"{len(items)} item(s) of {store} failed in each of the last {streak} runs that "
        "tried them; they will not pass on their own:"
    ]
    lines.extend(f"  {i.step} {i.key}: {i.message}" for i in items[:_SHOWN])
    if len(items) > _SHOWN:
        lines.append(f"  ... and {len(items) - _SHOWN} more (see the run's errors)")
    return "\n".join(lines)


def pending_detail(
    store: str, count: int, oldest: Sequence[WaitingOrder], hours: int, now: datetime
) -> str:
    lines = [
        f"{count} web order(s) of {store} have waited more than {hours} h to reach the back office:"
    ]
    for order in oldest[:_SHOWN]:
        waited = int((now - order.taken_in_at).total_seconds() // 3600)
        why = f" - last error: {order.last_error}" if order.last_error else ""
        lines.append(f"  order {order.number}, waiting {waited} h{why}")
    return "\n".join(lines)


def drift_stays_above(counts: Sequence[int], threshold: int) -> bool:
    """Whether each of the last ``DRIFT_CHECKS`` drift measurements (``counts``, newest
    first) was above ``threshold``; fewer measurements than that never alert."""
    latest = counts[:DRIFT_CHECKS]
    return len(latest) == DRIFT_CHECKS and all(count > threshold for count in latest)


def drift_detail(store: str, counts: Sequence[int], threshold: int) -> str:
    shown = ", ".join(str(c) for c in counts[:DRIFT_CHECKS])
    return (
        f"The web stock of {store} has drifted from the hub's for {len(counts[:DRIFT_CHECKS])} "
        f"checks in a row ({shown} SKUs, newest first; threshold {threshold}). See Drift on "
        "the dashboard, or `stockbridge drift --store " + store + " --repair`."
    )
