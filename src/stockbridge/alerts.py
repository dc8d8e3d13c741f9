"""Merchant alerts: once per incident, by email and/or a webhook (e.g. a chat channel).

Incidents, per store (``alert_incidents``):

- ``run_failed``: the store's latest failed *scheduled* run finished after its latest
  completed run (any trigger; ``partial`` counts as completed: item errors are retried and
  shown, not an outage). Opened once; later failures while it is open add nothing; a
  later completed run resolves it.
- ``stale``: no completed run for ``stale_after_hours`` (default 24; counted from the
  store's creation if it never synced; only business days' hours count when the store's
  Sync All schedule runs on business days only). Resolved once a run completes.
- ``item_failing``: runs that end ``partial`` with the same item failing each time
  (``failing_item_runs`` runs in a row, default 3; ``alert_rules.failing_items``).
  Resolved once no item fails that way.
- ``orders_pending``: a web order waiting longer than ``pending_order_hours`` (default
  24) to reach the back office. Resolved once none waits that long.

``Alerter.check(now)`` opens and resolves incidents, then notifies every open incident not
yet notified through each channel the store set up. An incident is marked notified only
when every channel took it; a channel that fails is logged (never with its secrets) and
tried again at the next check, and a channel that already took it is not sent it again
(the channels that took it are recorded with the incident, so a restart does not repeat
them either). Notifier errors never escape ``check``.

Settings live in ``stores.options`` (``alert_settings.py``); SMTP comes from ``Settings``
(``STOCKBRIDGE_SMTP_*``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stockbridge.alert_channels import (
    Alert,
    EmailNotifier,
    IncidentKind,
    Notifier,
    NotifyFailed,
    WebhookNotifier,
    default_notifiers,
)
from stockbridge.alert_rules import (
    DRIFT_CHECKS,
    RUNS_LOOKED_AT,
    WaitingOrder,
    drift_detail,
    drift_stays_above,
    failing_detail,
    failing_items,
    pending_detail,
    stale_elapsed,
)
from stockbridge.alert_settings import (
    DEFAULT_STALE_AFTER_HOURS,
    AlertSettings,
    InvalidAlertSetting,
    alert_settings,
    masked_url,
    updated_options,
)
from stockbridge.db.models import AlertIncident, Store
from stockbridge.db.runs import parse_steps
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.schedule import parse_holidays

__all__ = [
    "DEFAULT_STALE_AFTER_HOURS",
    "Alert",
    "AlertCheck",
    "AlertSettings",
    "Alerter",
    "EmailNotifier",
    "IncidentKind",
    "InvalidAlertSetting",
    "Notifier",
    "NotifyFailed",
    "WebhookNotifier",
    "alert_settings",
    "default_notifiers",
    "masked_url",
    "updated_options",
]

log = logging.getLogger(__name__)


# the check -------------------------------------------------------------------


@dataclass
class AlertCheck:
    """What one ``check`` did: incident ids opened, resolved and notified, and the
    channel failures (safe to show)."""

    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: Another process was checking at the same time; this one did nothing.
    skipped: bool = False


class Alerter:
    """Opens, resolves and notifies incidents. Concurrent checks never open an incident
    twice (the stores are locked while incidents change). Notifications happen outside any
    transaction, so two processes could both send an alert neither has marked notified
    yet: ``exclusive`` (an advisory lock on PostgreSQL, see ``db.engine.exclusive``) lets
    one check run at a time across processes; a check that finds it taken skips."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        notifiers: Sequence[Notifier],
        exclusive: Callable[[], AbstractContextManager[bool]] | None = None,
    ) -> None:
        self.uow = uow_factory
        self.notifiers = list(notifiers)
        self.exclusive = exclusive or (lambda: nullcontext(True))

    def check(self, now: datetime) -> AlertCheck:
        if now.utcoffset() is None:
            raise ValueError("Alerter.check needs a timezone-aware now")
        result = AlertCheck()
        with self.exclusive() as mine:
            if not mine:
                result.skipped = True
                return result
            self._update_incidents(now, result)
            self._notify(now, result)
        return result

    def _update_incidents(self, now: datetime, result: AlertCheck) -> None:
        with self.uow() as uow:
            stores = uow.alerts.lock_stores()
            completed = uow.alerts.last_completed_at()
            failed = uow.alerts.last_scheduled_failure_at()
            incidents = uow.alerts.open_incidents()
            last_partial = uow.alerts.stores_last_partial()
            waiting = uow.alerts.oldest_waiting_orders()
            for store in stores:
                settings = alert_settings(store.options)
                self._keep(
                    uow,
                    store,
                    IncidentKind.ITEM_FAILING,
                    _failing_detail(uow, store, settings.failing_item_runs)
                    if store.id in last_partial
                    or (store.id, IncidentKind.ITEM_FAILING.value) in incidents
                    else None,
                    incidents,
                    now,
                    result,
                )
                hours = settings.pending_order_hours
                oldest = waiting.get(store.id)
                overdue = oldest is not None and now - oldest >= timedelta(hours=hours)
                self._keep(
                    uow,
                    store,
                    IncidentKind.ORDERS_PENDING,
                    _pending_detail(uow, store, hours, now) if overdue else None,
                    incidents,
                    now,
                    result,
                )
                drift = uow.alerts.recent_drift(store.id, DRIFT_CHECKS)
                threshold = settings.drift_threshold
                self._keep(
                    uow,
                    store,
                    IncidentKind.DRIFT,
                    drift_detail(store.name, drift, threshold)
                    if drift_stays_above(drift, threshold)
                    else None,
                    incidents,
                    now,
                    result,
                )
                ok_at, failed_at = completed.get(store.id), failed.get(store.id)
                failing = failed_at is not None and (ok_at is None or failed_at > ok_at)
                open_failed = incidents.get((store.id, IncidentKind.RUN_FAILED.value))
                if failing and open_failed is None:
                    detail = _failure_detail(uow, store.id)
                    opened = uow.alerts.open(store.id, IncidentKind.RUN_FAILED, detail, now)
                    result.opened.append(opened.id)
                elif not failing and open_failed is not None:
                    open_failed.resolved_at = now
                    result.resolved.append(open_failed.id)

                hours = alert_settings(store.options).stale_after_hours
                since = ok_at or store.created_at
                plan = uow.schedules.get(store.id, "all")
                business = plan is not None and plan.enabled and plan.business_days
                elapsed = stale_elapsed(
                    since,
                    now,
                    store.timezone,
                    business_days=business,
                    holidays=parse_holidays(plan.holidays) if plan and business else (),
                )
                stale = elapsed >= timedelta(hours=hours)
                open_stale = incidents.get((store.id, IncidentKind.STALE.value))
                if stale and open_stale is None:
                    what = "since " + since.isoformat() if ok_at else "since the store was added"
                    limit = f"{hours} h of business days" if business else f"{hours} h"
                    detail = f"No sync has completed for {store.name} {what} (limit {limit})."
                    opened = uow.alerts.open(store.id, IncidentKind.STALE, detail, now)
                    result.opened.append(opened.id)
                elif not stale and open_stale is not None:
                    open_stale.resolved_at = now
                    result.resolved.append(open_stale.id)
            uow.commit()

    def _keep(
        self,
        uow: UnitOfWork,
        store: Store,
        kind: IncidentKind,
        detail: str | None,
        incidents: Mapping[tuple[int, str], AlertIncident],
        now: datetime,
        result: AlertCheck,
    ) -> None:
        """Open an incident of ``kind`` when ``detail`` says something is wrong and none
        is open; resolve the open one when nothing is (``detail`` None)."""
        incident = incidents.get((store.id, kind.value))
        if detail is not None and incident is None:
            result.opened.append(uow.alerts.open(store.id, kind, detail, now).id)
        elif detail is None and incident is not None:
            incident.resolved_at = now
            result.resolved.append(incident.id)

    def _notify(self, now: datetime, result: AlertCheck) -> None:
        with self.uow() as uow:
            pending = [
                (
                    _alert(incident.id, store, incident.kind, incident.detail, incident.opened_at),
                    alert_settings(store.options),
                    set(incident.delivered_channels.split(",")),
                )
                for incident, store in uow.alerts.unnotified()
            ]
        for alert, settings, delivered in pending:
            channels = [n for n in self.notifiers if n.wants(settings)]
            if not channels:
                continue  # nowhere to send it yet: it waits, open, for a channel
            delivered_all = True
            for notifier in channels:
                if notifier.channel in delivered:
                    continue
                try:
                    notifier.send(alert, settings)
                except NotifyFailed as exc:
                    delivered_all = False
                    message = f"incident {alert.incident_id} of store {alert.store}: {exc}"
                    log.warning("alert not delivered, retried at the next check: %s", message)
                    result.failures.append(message)
                    continue
                with self.uow() as uow:
                    uow.alerts.mark_delivered(alert.incident_id, notifier.channel)
                    uow.commit()
                log.info(
                    "alert %s (%s) sent to store %s by %s",
                    alert.incident_id,
                    alert.kind.value,
                    alert.store,
                    notifier.channel,
                )
            if delivered_all:
                with self.uow() as uow:
                    uow.alerts.mark_notified(alert.incident_id, now)
                    uow.commit()
                result.notified.append(alert.incident_id)


def _alert(incident_id: int, store: Store, kind: str, detail: str, opened_at: datetime) -> Alert:
    incident_kind = IncidentKind(kind)
    if incident_kind is IncidentKind.RUN_FAILED:
        subject = f"Stockbridge: the scheduled sync of {store.name} failed"
    elif incident_kind is IncidentKind.ITEM_FAILING:
        subject = f"Stockbridge: the same items keep failing in {store.name}'s syncs"
    elif incident_kind is IncidentKind.ORDERS_PENDING:
        subject = f"Stockbridge: web orders of {store.name} are waiting for the back office"
    elif incident_kind is IncidentKind.DRIFT:
        subject = f"Stockbridge: the web stock of {store.name} keeps drifting from the hub's"
    else:
        subject = f"Stockbridge: {store.name} has not synced successfully for a while"
    return Alert(incident_id, store.name, incident_kind, subject, detail, opened_at)


def _failing_detail(uow: UnitOfWork, store: Store, streak: int) -> str | None:
    runs = [
        (run_id, [step.value for step in parse_steps(steps)])
        for run_id, steps in uow.alerts.recent_runs(store.id, RUNS_LOOKED_AT)
    ]
    errors = uow.alerts.item_errors_of([run_id for run_id, _ in runs])
    items = failing_items(runs, errors, streak)
    return failing_detail(store.name, items, streak) if items else None


def _pending_detail(uow: UnitOfWork, store: Store, hours: int, now: datetime) -> str:
    count, oldest = uow.alerts.waiting_orders(store.id, now - timedelta(hours=hours), 5)
    waiting = [WaitingOrder(o.number, o.created_at, o.last_error) for o in oldest]
    return pending_detail(store.name, count, waiting, hours, now)


def _failure_detail(uow: UnitOfWork, store_id: int) -> str:
    run = uow.alerts.last_scheduled_failure(store_id)
    if run is None:
        return "A scheduled sync failed."
    steps = ", ".join(step.value for step in parse_steps(run.steps))
    finished = run.finished_at.isoformat() if run.finished_at else "?"
    lines = [
        f"Scheduled run {run.id} ({steps}) failed at {finished}.",
        f"Error: {run.error or 'no message'}",
    ]
    errors = uow.runs.errors(run.id)
    if errors:
        lines.append(f"Items that failed ({len(errors)}):")
        for error in errors[:5]:
            code = f" [{error.code}]" if error.code else ""
            lines.append(f"  {error.item_key}: {error.message}{code}")
    return "\n".join(lines)
