"""Alerts for stuck work, through the real channels (a local SMTP server and webhook
receiver): the same item failing run after run, and web orders waiting too long for the
back office. Once per incident; resolved when the work moves; thresholds per store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.alert_rules import failing_items
from stockbridge.alerts import Alerter, WebhookNotifier
from stockbridge.cli import build_app
from stockbridge.domain.model import (
    SYNC_ALL,
    ItemError,
    OrderLine,
    RunStatus,
    Step,
    Trigger,
    WebOrder,
    WebOrderStatus,
)
from tests.alert_support import (
    MailInbox,
    WebhookReceiver,
    clean_channels,  # noqa: F401  (the clean fixture)
    email_notifier,
    http_client,  # noqa: F401  (the http fixture)
    smtp_server,  # noqa: F401  (the smtp fixture)
    webhook_receiver,  # noqa: F401  (the receiver fixture)
)
from tests.conftest import Harness

STUCK = ItemError("order 1001", "Invalid Reference Id: Item GHOST not found", "2500")


def run(
    harness: Harness,
    store_id: int,
    errors: list[ItemError],
    steps: tuple[Step, ...] = SYNC_ALL,
    status: RunStatus = RunStatus.PARTIAL,
) -> int:
    run_id, _ = harness.hub.runner().request(store_id, steps, Trigger.SCHEDULE)
    with harness.hub.uow() as uow:
        if errors:
            uow.runs.add_errors(run_id, Step.ORDERS_OUT, errors)
        uow.runs.finish(run_id, status, None)
        uow.commit()
    return run_id


def alerter(harness: Harness, port: int, http: httpx.Client) -> Alerter:
    return Alerter(harness.hub.uow, [email_notifier(port), WebhookNotifier(http)])


@pytest.mark.usefixtures("clean")
def test_the_same_item_failing_three_runs_in_a_row_alerts_once(
    harness: Harness,
    smtp: tuple[MailInbox, int],
    receiver: tuple[WebhookReceiver, str],
    http: httpx.Client,
) -> None:
    inbox, port = smtp
    hooks, url = receiver
    store_id = harness.add_store("shop")
    services.update_store(harness.hub, "shop", alert_email="owner@shop.test", alert_webhook_url=url)
    alerts = alerter(harness, port, http)

    def now() -> datetime:
        return datetime.now(UTC)  # runs finish at the real time

    run(harness, store_id, [STUCK])
    run(harness, store_id, [STUCK, ItemError("order 1002", "refused")])
    run(harness, store_id, [], steps=(Step.INVENTORY_OUT,))  # no orders-out: no verdict
    assert alerts.check(now()).opened == []

    run(harness, store_id, [STUCK])
    first = alerts.check(now())

    assert len(first.opened) == 1 and first.notified == first.opened
    [mail] = inbox.take()
    assert mail["Subject"] == "Stockbridge: the same items keep failing in shop's syncs"
    body = mail.get_payload()
    assert isinstance(body, str)
    assert "failed in each of the last 3 runs" in body
    assert "orders-out order 1001: Invalid Reference Id: Item GHOST not found" in body
    assert "order 1002" not in body  # failed twice only
    [posted] = hooks.take()
    assert posted["kind"] == "item_failing"

    run(harness, store_id, [STUCK])  # still failing: the same incident, nothing sent
    again = alerts.check(now())
    assert (again.opened, again.notified) == ([], [])
    assert inbox.take() == [] and hooks.take() == []

    run(harness, store_id, [], status=RunStatus.SUCCEEDED)  # it went through
    assert alerts.check(now()).resolved == first.opened


@pytest.mark.usefixtures("clean")
def test_the_streak_is_a_store_setting(
    harness: Harness, smtp: tuple[MailInbox, int], http: httpx.Client
) -> None:
    inbox, port = smtp
    store_id = harness.add_store("shop")
    services.update_store(harness.hub, "shop", alert_email="owner@shop.test", failing_item_runs=2)
    alerts = alerter(harness, port, http)
    run(harness, store_id, [STUCK])
    assert alerts.check(datetime.now(UTC)).opened == []
    run(harness, store_id, [STUCK])
    assert len(alerts.check(datetime.now(UTC)).opened) == 1
    assert "last 2 runs" in str(inbox.take()[0].get_payload())


def test_failing_items_counts_only_runs_that_tried_the_step() -> None:
    runs = [(3, ["orders-out"]), (2, ["inventory-out"]), (1, ["orders-out"])]
    errors = {3: {("orders-out", "W1"): "new"}, 2: {}, 1: {("orders-out", "W1"): "old"}}
    assert [(i.key, i.message) for i in failing_items(runs, errors, 2)] == [("W1", "new")]
    assert failing_items(runs, errors, 3) == []  # only two runs tried orders-out
    broken = {**errors, 1: {}}
    assert failing_items(runs, broken, 2) == []


def _order(web_id: str) -> WebOrder:
    return WebOrder(
        web_id=web_id,
        number=f"W{web_id}",
        status=WebOrderStatus.OPEN,
        modified_at=datetime.now(UTC),
        lines=(OrderLine("A", 1, Decimal("5"), "A"),),
    )


@pytest.mark.usefixtures("clean")
def test_an_order_waiting_longer_than_the_set_time_alerts_once(
    harness: Harness,
    smtp: tuple[MailInbox, int],
    receiver: tuple[WebhookReceiver, str],
    http: httpx.Client,
) -> None:
    inbox, port = smtp
    hooks, url = receiver
    store_id = harness.add_store("shop")
    services.update_store(
        harness.hub,
        "shop",
        alert_webhook_url=url,
        stale_after_hours=24 * 90,  # this test is about orders only
    )
    with harness.hub.uow() as uow:
        uow.orders.apply_page(store_id, [_order("1"), _order("2")])
        uow.commit()
    alerts = alerter(harness, port, http)
    start = datetime.now(UTC)

    assert alerts.check(start + timedelta(hours=23)).opened == []
    first = alerts.check(start + timedelta(hours=25))
    assert len(first.opened) == 1
    [posted] = hooks.take()
    assert posted["kind"] == "orders_pending"
    assert "2 web order(s) of shop have waited more than 24 h" in posted["detail"]
    assert "order W1, waiting 25 h" in posted["detail"]
    assert alerts.check(start + timedelta(hours=26)).opened == []  # once per incident
    assert hooks.take() == []

    with harness.hub.uow() as uow:
        connection = uow.stores.connect(
            store_id, role="back_office", kind="fake-bo", settings={}, credentials=None
        )
        uow.orders.mark_posted(store_id, connection.id, {"1": "R1", "2": "R2"})
        uow.commit()
    assert alerts.check(start + timedelta(hours=27)).resolved == first.opened

    services.update_store(harness.hub, "shop", pending_order_hours=48)
    with harness.hub.uow() as uow:
        uow.orders.apply_page(store_id, [_order("3")])
        uow.commit()
    assert alerts.check(start + timedelta(hours=30)).opened == []
    assert len(alerts.check(start + timedelta(hours=49)).opened) == 1
    assert inbox.take() == []  # no email address set: the webhook only


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--failing-item-runs", "0", "--failing-item-runs takes 1-100 runs, not 0"),
        ("--failing-item-runs", "-2", "not -2"),
        ("--pending-order-hours", "0", "--pending-order-hours takes 1-2160 hours, not 0"),
    ],
)
def test_bad_alert_thresholds_exit_2_and_change_nothing(
    harness: Harness, option: str, value: str, reason: str
) -> None:
    harness.add_store("shop")
    before = services.describe_store(harness.hub, "shop")
    result = CliRunner().invoke(
        build_app(lambda: harness.hub), ["store", "set", "shop", option, value]
    )
    assert result.exit_code == 2 and reason in result.output, result.output
    assert services.describe_store(harness.hub, "shop") == before
    assert before.failing_item_runs == 3 and before.pending_order_hours == 24
