"""Alert channels: email over SMTP and a JSON webhook (e.g. a chat channel). Each
delivers one alert or raises ``NotifyFailed`` with a message safe to log."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

import httpx

from stockbridge.alert_settings import AlertSettings, masked_url
from stockbridge.config import Settings
from stockbridge.outbound import OutboundRefused

__all__ = [
    "Alert",
    "EmailNotifier",
    "IncidentKind",
    "Notifier",
    "NotifyFailed",
    "WebhookNotifier",
    "default_notifiers",
]


class IncidentKind(StrEnum):
    RUN_FAILED = "run_failed"
    STALE = "stale"
    ITEM_FAILING = "item_failing"
    ORDERS_PENDING = "orders_pending"
    DRIFT = "drift"


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
