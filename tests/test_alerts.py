"""Merchant alerts, delivered to a local SMTP server (aiosmtpd) and a local webhook
receiver (Starlette on loopback): once per incident, retried when a channel fails."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.alerts import Alerter, EmailNotifier, WebhookNotifier
from stockbridge.cli import build_app
from stockbridge.config import Settings
from stockbridge.db.engine import exclusive
from stockbridge.domain.model import SYNC_ALL, ItemError, RunStatus, Step, Trigger
from tests.alert_support import (
    MailInbox,
    WebhookReceiver,
    clean_channels,  # noqa: F401  (the clean fixture)
    email_notifier,
    free_port,
    http_client,  # noqa: F401  (the http fixture)
    smtp_server,  # noqa: F401  (the smtp fixture)
    webhook_receiver,  # noqa: F401  (the receiver fixture)
)
from tests.conftest import Harness

SMTP_PASSWORD = "smtp-pa55word"


def finished_run(
    harness: Harness,
    store_id: int,
    trigger: Trigger,
    status: RunStatus,
    error: str | None = None,
    item_errors: list[ItemError] | None = None,
) -> int:
    run_id, _ = harness.hub.runner().request(store_id, SYNC_ALL, trigger)
    with harness.hub.uow() as uow:
        if item_errors:
            uow.runs.add_errors(run_id, Step.ORDERS_OUT, item_errors)
        uow.runs.finish(run_id, status, error)
        uow.commit()
    return run_id


@pytest.mark.usefixtures("clean")
def test_a_failed_scheduled_run_alerts_once_per_incident(
    harness: Harness,
    smtp: tuple[MailInbox, int],
    receiver: tuple[WebhookReceiver, str],
    http: httpx.Client,
) -> None:
    inbox, port = smtp
    hooks, url = receiver
    store_id = harness.add_store("shop")
    services.update_store(harness.hub, "shop", alert_email="owner@shop.test", alert_webhook_url=url)
    alerter = Alerter(harness.hub.uow, [email_notifier(port), WebhookNotifier(http)])

    def now() -> datetime:
        return datetime.now(UTC)  # runs finish at the real time

    assert alerter.check(now()).opened == []

    failed = finished_run(
        harness,
        store_id,
        Trigger.SCHEDULE,
        RunStatus.FAILED,
        "orders-out: QuickBooks Online answered 401: AuthenticationFailed",
        [ItemError("order 1001", "Invalid Reference Id: Item GHOST not found", "2500")],
    )
    first = alerter.check(now())
    assert len(first.opened) == 1 and first.notified == first.opened
    [mail] = inbox.take()
    assert mail["Subject"] == "Stockbridge: the scheduled sync of shop failed"
    assert mail["To"] == "owner@shop.test"
    body = mail.get_payload()
    assert isinstance(body, str)
    assert f"Scheduled run {failed} (orders-in, orders-out" in body
    assert "AuthenticationFailed" in body
    assert "order 1001: Invalid Reference Id: Item GHOST not found [2500]" in body
    [posted] = hooks.take()
    assert posted["kind"] == "run_failed" and posted["store"] == "shop"
    assert posted["text"].startswith("Stockbridge: the scheduled sync of shop failed\n")

    # later failures while the incident is open: no new incident, nothing sent
    finished_run(harness, store_id, Trigger.SCHEDULE, RunStatus.FAILED, "again")
    finished_run(harness, store_id, Trigger.MANUAL, RunStatus.FAILED, "by hand")
    again = alerter.check(now())
    assert (again.opened, again.notified) == ([], [])
    assert inbox.take() == [] and hooks.take() == []

    # a completed run (partial: item errors only) resolves it, without a message
    finished_run(harness, store_id, Trigger.MANUAL, RunStatus.PARTIAL)
    resolved = alerter.check(now())
    assert resolved.resolved == first.opened
    assert inbox.take() == [] and hooks.take() == []

    # a manual failure alone is not an incident; the next scheduled failure is a new one
    finished_run(harness, store_id, Trigger.MANUAL, RunStatus.FAILED, "by hand")
    assert alerter.check(now()).opened == []
    finished_run(harness, store_id, Trigger.SCHEDULE, RunStatus.FAILED, "third time")
    second = alerter.check(now())
    assert len(second.opened) == 1 and second.opened != first.opened
    assert len(inbox.take()) == 1 and len(hooks.take()) == 1


@pytest.mark.usefixtures("clean")
def test_no_successful_sync_for_hours_alerts_once(
    harness: Harness,
    smtp: tuple[MailInbox, int],
    receiver: tuple[WebhookReceiver, str],
    http: httpx.Client,
) -> None:
    inbox, port = smtp
    hooks, url = receiver
    store_id = harness.add_store("shop")
    harness.add_store("quiet")  # no channels: its incident waits, unsent
    services.update_store(harness.hub, "shop", alert_webhook_url=url, stale_after_hours=6)
    alerter = Alerter(harness.hub.uow, [email_notifier(port), WebhookNotifier(http)])
    start = datetime.now(UTC)
    assert alerter.check(start + timedelta(hours=5)).opened == []
    stale = alerter.check(start + timedelta(hours=7))
    assert len(stale.opened) == 1 and stale.notified == stale.opened
    [posted] = hooks.take()
    assert posted["kind"] == "stale"
    assert "No sync has completed for shop since the store was added (limit 6 h)" in posted["text"]
    assert inbox.take() == []  # shop set up no email

    later = alerter.check(start + timedelta(hours=30))
    assert len(later.opened) == 1  # the quiet store (24 h default); shop's stays open
    assert later.notified == [] and hooks.take() == []

    finished_run(harness, store_id, Trigger.SCHEDULE, RunStatus.SUCCEEDED)
    back = alerter.check(datetime.now(UTC) + timedelta(minutes=1))
    assert stale.opened[0] in back.resolved
    assert hooks.take() == []  # resolving sends nothing


@pytest.mark.usefixtures("clean")
def test_a_failing_channel_is_retried_and_never_leaks_secrets(
    sqlite_harness: Harness,
    smtp: tuple[MailInbox, int],
    receiver: tuple[WebhookReceiver, str],
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp
    hooks, url = receiver
    store_id = sqlite_harness.add_store("shop")
    services.update_store(
        sqlite_harness.hub, "shop", alert_email="owner@shop.test", alert_webhook_url=url
    )
    down = EmailNotifier(
        host="127.0.0.1",
        port=free_port(),  # nothing listens there
        sender="alerts@stockbridge.test",
        username="alerts",
        password=SMTP_PASSWORD,
        starttls=False,
        timeout=5,
    )
    finished_run(sqlite_harness, store_id, Trigger.SCHEDULE, RunStatus.FAILED, "boom")
    caplog.set_level(logging.INFO, logger="stockbridge")

    # SMTP down and the webhook answering 500: nothing marked notified, nothing raised
    hooks.failing = 1
    failing = Alerter(sqlite_harness.hub.uow, [down, WebhookNotifier(http)])
    result = failing.check(datetime.now(UTC))
    assert len(result.opened) == 1 and result.notified == []
    assert len(result.failures) == 2
    assert any("ConnectionRefusedError" in f for f in result.failures)
    assert any("answered 500" in f for f in result.failures)
    logs = caplog.text
    assert SMTP_PASSWORD not in logs and "T0KEN" not in logs
    assert "retried at the next check" in logs

    # next check: email works, the webhook fails once more -> email sent, still pending
    hooks.failing = 1
    alerter = Alerter(sqlite_harness.hub.uow, [email_notifier(port), WebhookNotifier(http)])
    partly = alerter.check(datetime.now(UTC))
    assert partly.notified == [] and len(inbox.take()) == 1
    # then the webhook works, in a restarted process: it gets the alert, and the email
    # is not sent twice (the incident remembers which channels took it)
    alerter = Alerter(sqlite_harness.hub.uow, [email_notifier(port), WebhookNotifier(http)])
    done = alerter.check(datetime.now(UTC))
    assert done.notified == result.opened
    assert inbox.take() == [] and len(hooks.take()) == 1
    assert alerter.check(datetime.now(UTC)).notified == []
    assert SMTP_PASSWORD not in caplog.text and "T0KEN" not in caplog.text


def test_email_without_smtp_host_is_a_logged_failure(sqlite_harness: Harness) -> None:
    store_id = sqlite_harness.add_store("shop")
    services.update_store(sqlite_harness.hub, "shop", alert_email="owner@shop.test")
    finished_run(sqlite_harness, store_id, Trigger.SCHEDULE, RunStatus.FAILED, "boom")
    alerter = Alerter(sqlite_harness.hub.uow, [EmailNotifier.from_settings(Settings())])
    result = alerter.check(datetime.now(UTC))
    assert result.notified == []
    assert result.failures and "STOCKBRIDGE_SMTP_HOST is not set" in result.failures[0]


def test_smtp_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKBRIDGE_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("STOCKBRIDGE_SMTP_PORT", "2525")
    monkeypatch.setenv("STOCKBRIDGE_SMTP_FROM", "hub@example.com")
    monkeypatch.setenv("STOCKBRIDGE_SMTP_USERNAME", "hub")
    monkeypatch.setenv("STOCKBRIDGE_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("STOCKBRIDGE_SMTP_STARTTLS", "false")
    settings = Settings()
    assert SMTP_PASSWORD not in repr(settings)
    notifier = EmailNotifier.from_settings(settings)
    assert (notifier.host, notifier.port, notifier.sender) == (
        "mail.example.com",
        2525,
        "hub@example.com",
    )
    assert notifier.username == "hub" and notifier.starttls is False


def test_store_set_alert_options(sqlite_harness: Harness) -> None:
    services.add_store(sqlite_harness.hub, "shop")
    app = build_app(lambda: sqlite_harness.hub)
    cli = CliRunner()

    def show() -> dict[str, Any]:
        result = cli.invoke(app, ["store", "show", "shop", "--json"])
        data: dict[str, Any] = json.loads(result.output)
        return data

    assert show()["stale_after_hours"] == 24 and show()["alert_email"] is None
    ok = cli.invoke(
        app,
        [
            "store", "set", "shop",
            "--alert-email", "owner@shop.test",
            "--alert-webhook", "https://hooks.chat.test/services/T0KEN",
            "--stale-after-hours", "12",
        ],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    shown = show()
    assert shown["alert_email"] == "owner@shop.test"
    assert shown["alert_webhook"] == "https://hooks.chat.test/…"  # the token stays hidden
    assert shown["stale_after_hours"] == 12
    for args, message in [
        (("--alert-email", "not-an-address"), "not an email address"),
        (("--alert-email", "a@b.test\nBcc: x@y.test"), "not an email address"),
        (("--alert-webhook", "ftp://files.test/x"), "http(s) URL"),
        (("--alert-webhook", "not a url"), "http(s) URL"),
        (("--stale-after-hours", "0"), "1-2160 hours"),
        (("--stale-after-hours", "99999"), "1-2160 hours"),
        (("--timezone", "Europe/London", "--alert-email", "bad"), "not an email address"),
    ]:
        bad = cli.invoke(app, ["store", "set", "shop", *args])
        assert bad.exit_code == 2, (args, bad.output)
        assert message in bad.output
        assert show() == shown  # nothing changed, the time zone included
    cleared = cli.invoke(app, ["store", "set", "shop", "--alert-email", ""])
    assert cleared.exit_code == 0 and show()["alert_email"] is None


def test_concurrent_checks_open_an_incident_once(harness: Harness) -> None:
    store_id = harness.add_store("shop")
    finished_run(harness, store_id, Trigger.SCHEDULE, RunStatus.FAILED, "boom")
    alerters = [Alerter(harness.hub.uow, []) for _ in range(4)]
    barrier = threading.Barrier(len(alerters), timeout=60)
    opened: list[int] = []
    now = datetime.now(UTC)

    def check(alerter: Alerter) -> None:
        barrier.wait()
        opened.extend(alerter.check(now).opened)

    threads = [threading.Thread(target=check, args=(a,)) for a in alerters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(opened) == 1
    with harness.hub.uow() as uow:
        assert list(uow.alerts.open_incidents()) == [(store_id, "run_failed")]


@pytest.mark.usefixtures("clean")
def test_one_process_at_a_time_checks_and_sends(
    harness: Harness,
    receiver: tuple[WebhookReceiver, str],
    http: httpx.Client,
) -> None:
    """Several `serve` processes on one PostgreSQL database: while one holds the alert
    lock, another's check does nothing, so no alert goes out twice."""
    hooks, url = receiver
    store_id = harness.add_store("shop")
    services.update_store(harness.hub, "shop", alert_webhook_url=url)
    finished_run(harness, store_id, Trigger.SCHEDULE, RunStatus.FAILED, "boom")
    alerter = harness.hub.alerter(http)
    postgres = harness.hub.engine.dialect.name == "postgresql"

    with exclusive(harness.hub.engine, "stockbridge-alerts") as held_elsewhere:
        assert held_elsewhere
        meanwhile = alerter.check(datetime.now(UTC))
    assert meanwhile.skipped is postgres  # SQLite: embedded, one process, never skips
    if postgres:
        assert meanwhile.opened == [] and hooks.take() == []
        assert alerter.check(datetime.now(UTC)).notified != []
    assert len(hooks.take()) == 1
    assert alerter.check(datetime.now(UTC)).notified == []
