"""The dashboard's charts: the figures behind them from seeded runs and drift checks, and
the SVG they render in Chromium (one point per seeded run, readable at phone width, the
numbers also in a table for screen readers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import sync_playwright

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.db.models import DriftCheck, SyncRun
from stockbridge.domain.model import SYNC_ALL, Trigger
from stockbridge.services.charts import DAYS, store_charts
from stockbridge.web.dashboard.charts import bar_chart, dot_chart, line_chart
from tests.conftest import Harness
from tests.service_helpers import Running, start_service

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PASSWORD = "correct horse battery"
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)

#: (days ago, trigger, status, seconds, pushed, posted)
SEEDED = [
    (0, Trigger.MANUAL, "succeeded", 4.0, 10, 2),
    (0, Trigger.WEBHOOK, "succeeded", 1.5, 1, 0),
    (1, Trigger.SCHEDULE, "partial", 9.0, 5, 3),
    (3, Trigger.SCHEDULE, "failed", 2.0, 0, 0),
    (3, Trigger.WEBHOOK, "succeeded", 2.5, 2, 1),
    (DAYS + 2, Trigger.SCHEDULE, "succeeded", 3.0, 100, 100),  # older than the charts
]


def seed(hub: Hub, store_id: int) -> None:
    runner = hub.runner()
    for n, (ago, trigger, status, seconds, pushed, posted) in enumerate(SEEDED):
        run_id, _ = runner.request(store_id, SYNC_ALL, trigger)
        with hub.uow() as uow:
            run = uow.session.get(SyncRun, run_id)
            assert run is not None
            finished = NOW - timedelta(days=ago, minutes=n)
            run.requested_at = finished - timedelta(seconds=seconds + 1)
            run.started_at = finished - timedelta(seconds=seconds)
            run.finished_at = finished
            run.status = status
            run.progress = {
                "orders-out": {"status": "succeeded", "done": posted},
                "inventory-out": {"status": "succeeded", "done": pushed},
            }
            uow.session.add(
                DriftCheck(
                    store_id=store_id,
                    checked_at=finished,
                    source="report",
                    drifted=ago + 1,
                    web_only=0,
                    hub_only=0,
                )
            )
            uow.commit()


def test_figures_per_day_and_per_run(sqlite_harness: Harness) -> None:
    hub = sqlite_harness.hub
    store_id = sqlite_harness.add_store("shop")
    seed(hub, store_id)
    charts = store_charts(hub, "shop", now=NOW)
    assert len(charts.days) == DAYS and charts.days[-1] == NOW.date()
    assert (charts.pushed[-1], charts.posted[-1]) == (11, 2)
    assert (charts.pushed[-2], charts.posted[-2]) == (5, 3)
    assert (charts.pushed[-4], charts.posted[-4]) == (2, 1)
    assert sum(charts.pushed) == 18  # the run older than 30 days is not counted
    assert charts.outcomes["failed"][-4] == 1 and charts.outcomes["partial"][-2] == 1
    assert charts.webhook_lag[-1] == 2.5 and charts.webhook_lag[-4] == 3.5
    assert charts.webhook_lag[-2] is None
    assert (charts.drift[-1], charts.drift[-2], charts.drift[-4], charts.drift[-3]) == (
        1,
        2,
        4,
        None,
    )
    assert [round(p.seconds, 1) for p in charts.runs] == [2.5, 2.0, 9.0, 1.5, 4.0]


def test_svg_has_a_point_per_value_and_a_table() -> None:
    dots = dot_chart(
        "d", "Runs <all>", [("Run 1", 2.0, "succeeded"), ("Run 2", 5.5, "failed")], "s"
    )
    assert dots.count('<circle class="point') == 2 and "Runs &lt;all&gt;" in dots
    assert '<div class="sr-only"><table>' in dots and "<td>5.5</td>" in dots
    bars = bar_chart("b", "B", ["a", "b", "c"], [("x", "x", [1, 0, 3]), ("y", "y", [2, 0, 0])])
    assert bars.count('<rect class="bar') == 3
    line = line_chart("l", "L", ["a", "b", "c"], [1.0, None, 2.0], "SKUs")
    assert line.count('<circle class="point"') == 2 and '<line class="link"' not in line
    assert dot_chart("e", "Empty", [], "s").count("<circle") == 0


@pytest.fixture
def running(sqlite_harness: Harness) -> Iterator[Running]:
    store_id = sqlite_harness.add_store("shop")
    seed(sqlite_harness.hub, store_id)
    accounts.add_user(sqlite_harness.hub, "ann", PASSWORD, stores=["shop"])
    r = start_service(sqlite_harness.hub)
    yield r
    r.server.stop()
    r.service.stop()


@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) and os.environ.get("CI") is None,
    reason=f"{CHROMIUM} is missing: ./dev setup installs Debian's chromium",
)
def test_charts_in_chromium_at_phone_width(running: Running) -> None:
    seeded_runs = len([s for s in SEEDED if s[0] < DAYS])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            page.goto(f"{running.server.url}/login?next=/stores/shop")
            page.get_by_label("User name").fill("ann")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{running.server.url}/stores/shop")
            durations = page.locator("#chart-durations circle.point")
            assert durations.count() == seeded_runs
            assert page.locator("#chart-pushed rect.bar").count() == 3  # three days pushed
            box = page.locator("#chart-durations").bounding_box()
            assert box is not None and 0 < box["width"] <= 390
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= 390  # no sideways scrolling at phone width
            table = page.locator('[data-chart="chart-durations"] .sr-only table tbody tr')
            assert table.count() == seeded_runs
            page.goto(f"{running.server.url}/stores/shop/history?status=succeeded")
            succeeded = len([s for s in SEEDED if s[2] == "succeeded"])
            assert page.locator("#chart-history circle.point").count() == succeeded
        finally:
            browser.close()
    assert services.run_history(running.hub, "shop", 10)
