"""Merchant alerts: once per incident, by email and/or a webhook (e.g. a chat channel).

Incidents, per store (``alert_incidents``):

- ``run_failed``: the store's latest failed *scheduled* run finished after its latest
  completed run (any trigger; ``partial`` counts as completed: item errors are retried and
  shown, not an outage). Opened once; later failures while it is open add nothing; a
  later completed run resolves it.
- ``stale``: no completed run for ``stale_after_hours`` (default 24; counted from the
  store's creation if it never synced). Resolved once a run completes.

``Alerter.check(now)`` opens and resolves incidents, then notifies every open incident not
yet notified through each channel the store set up. An incident is marked notified only
when every channel took it; a channel that fails is logged (never with its secrets) and
tried again at the next check, and a channel that already took it is not sent it again
(the channels that took it are recorded with the incident, so a restart does not repeat
them either). Notifier errors never escape ``check``.

Settings live in ``stores.options``: ``alert_email``, ``alert_webhook_url``,
``stale_after_hours``; SMTP comes from ``Settings`` (``STOCKBRIDGE_SMTP_*``).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any, Protocol

import httpx

from stockbridge.config import Settings
from stockbridge.db.models import Store
from stockbridge.db.runs import parse_steps
from stockbridge.db.uow import UnitOfWork
from stockbridge.outbound import OutboundPolicy, OutboundRefused

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

DEFAULT_STALE_AFTER_HOURS = 24
MAX_STALE_AFTER_HOURS = 24 * 90
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
_MAX_URL = 2000


class InvalidAlertSetting(ValueError):
    """An alert setting that cannot be used; the message says what is accepted."""


class IncidentKind(StrEnum):
    RUN_FAILED = "run_failed"
    STALE = "stale"


# settings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertSettings:
    email: str | None = None
    webhook_url: str | None = None
    stale_after_hours: int = DEFAULT_STALE_AFTER_HOURS


def alert_settings(options: Mapping[str, Any] | None) -> AlertSettings:
    """A store's alert settings from its ``options`` (defaults for anything missing)."""
    options = options or {}
    hours = options.get("stale_after_hours")
    return AlertSettings(
        email=options.get("alert_email") or None,
        webhook_url=options.get("alert_webhook_url") or None,
        stale_after_hours=hours if isinstance(hours, int) else DEFAULT_STALE_AFTER_HOURS,
    )


def _check_email(address: str) -> str:
    address = address.strip()
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise InvalidAlertSetting(f"{address!r} is not an email address like name@example.com")
    return address


def _check_webhook_url(url: str, outbound: OutboundPolicy) -> str:
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if (
        parsed is None
        or len(url) > _MAX_URL
        or parsed.scheme not in ("http", "https")
        or not parsed.host
        or any(c.isspace() for c in url)
    ):
        raise InvalidAlertSetting(
            "the alert webhook must be an http(s) URL such as a chat channel's incoming webhook"
        )
    try:
        outbound.check_url(url)
    except OutboundRefused as exc:
        raise InvalidAlertSetting(f"the alert webhook is refused: {exc}") from None
    return url


def updated_options(
    options: Mapping[str, Any] | None,
    *,
    email: str | None = None,
    webhook_url: str | None = None,
    stale_after_hours: int | None = None,
    outbound: OutboundPolicy | None = None,
) -> dict[str, Any]:
    """A new ``options`` dict with the given alert settings (None: unchanged; "": cleared).
    Checks everything first; raises ``InvalidAlertSetting`` and changes nothing. A webhook
    URL must resolve to addresses the hub's ``outbound`` policy allows (default: the
    strict one, public addresses only); the hub checks again at every delivery."""
    result = dict(options or {})
    if email is not None:
        result["alert_email"] = _check_email(email) if email.strip() else None
    if webhook_url is not None:
        result["alert_webhook_url"] = (
            _check_webhook_url(webhook_url, outbound or OutboundPolicy()) if webhook_url else None
        )
    if stale_after_hours is not None:
        if not 1 <= stale_after_hours <= MAX_STALE_AFTER_HOURS:
            raise InvalidAlertSetting(
                f"--stale-after-hours takes 1-{MAX_STALE_AFTER_HOURS} hours, "
                f"not {stale_after_hours}"
            )
        result["stale_after_hours"] = stale_after_hours
    return result


def masked_url(url: str | None) -> str | None:
    """Scheme and host only: webhook paths often carry a secret token."""
    if not url:
        return None
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}/…"


# notifiers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    incident_id: int
    store: str
    kind: IncidentKind
    subject: str
    detail: str
    opened_at: datetime


class NotifyFailed(RuntimeError):
    """A channel did not take the alert. The message is safe to log (no secrets)."""


class Notifier(Protocol):
    """One alert channel. ``wants`` says whether the store set this channel up; ``send``
    delivers the alert or raises ``NotifyFailed`` (and nothing else) with a message safe
    to log."""

    channel: str

    def wants(self, settings: AlertSettings) -> bool: ...

    def send(self, alert: Alert, settings: AlertSettings) -> None: ...


class EmailNotifier:
    """Email over SMTP (STARTTLS and login when configured)."""

    channel = "email"

    def __init__(
        self,
        *,
        host: str | None,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self._password = username, password
        self.starttls, self.timeout = starttls, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailNotifier:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )

    def wants(self, settings: AlertSettings) -> bool:
        return settings.email is not None

    def send(self, alert: Alert, settings: AlertSettings) -> None:
        if not self.host:
            raise NotifyFailed("email alerts are set up but STOCKBRIDGE_SMTP_HOST is not set")
        assert settings.email is not None
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.sender
        message["To"] = settings.email
        message.set_content(
            f"{alert.detail}\n\nStore: {alert.store}\nOpened: {alert.opened_at.isoformat()}\n"
            f"Incident: {alert.incident_id} ({alert.kind.value})\n\n"
            "You get one message per incident; Stockbridge closes it once a sync succeeds.\n"
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            reason = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
            raise NotifyFailed(
                f"email via {self.host}:{self.port} failed: {type(exc).__name__}"
                + (f" (SMTP {reason})" if reason else "")
            ) from None


class WebhookNotifier:
    """A JSON POST; ``text`` carries the whole message, so a chat channel's incoming
    webhook shows it as is, and the other fields serve programs. The URL is the store's
    choice: ``client`` must be one that enforces the hub's outbound policy
    (``Hub.outbound_client``); a refusal is reported with the rule it broke."""

    channel = "webhook"

    def __init__(self, client: httpx.Client, timeout: float = 15.0) -> None:
        self.client = client
        self.timeout = timeout

    def wants(self, settings: AlertSettings) -> bool:
        return settings.webhook_url is not None

    def send(self, alert: Alert, settings: AlertSettings) -> None:
        assert settings.webhook_url is not None
        payload = {
            "text": f"{alert.subject}\n{alert.detail}",
            "store": alert.store,
            "kind": alert.kind.value,
            "incident_id": alert.incident_id,
            "opened_at": alert.opened_at.isoformat(),
            "detail": alert.detail,
        }
        where = masked_url(settings.webhook_url)
        try:
            response = self.client.post(settings.webhook_url, json=payload, timeout=self.timeout)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            raise NotifyFailed(f"webhook {where} answered {exc.response.status_code}") from None
        except OutboundRefused as exc:
            raise NotifyFailed(f"webhook {where} refused: {exc}") from None
        except httpx.HTTPError as exc:  # the message may quote the URL: name the type only
            raise NotifyFailed(f"webhook {where} failed: {type(exc).__name__}") from None


def default_notifiers(settings: Settings, client: httpx.Client) -> list[Notifier]:
    return [EmailNotifier.from_settings(settings), WebhookNotifier(client)]


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
            for store in stores:
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
                stale = now - since >= timedelta(hours=hours)
                open_stale = incidents.get((store.id, IncidentKind.STALE.value))
                if stale and open_stale is None:
                    what = "since " + since.isoformat() if ok_at else "since the store was added"
                    detail = f"No sync has completed for {store.name} {what} (limit {hours} h)."
                    opened = uow.alerts.open(store.id, IncidentKind.STALE, detail, now)
                    result.opened.append(opened.id)
                elif not stale and open_stale is not None:
                    open_stale.resolved_at = now
                    result.resolved.append(open_stale.id)
            uow.commit()

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
    else:
        subject = f"Stockbridge: {store.name} has not synced successfully for a while"
    return Alert(incident_id, store.name, incident_kind, subject, detail, opened_at)


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
