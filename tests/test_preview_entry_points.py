"""The dry run's entry points: the API (``"dry_run": true``), the CLI (``sync all
--dry-run``) and the dashboard's Preview button, with their bad input; nothing queued,
nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.cli import build_app
from stockbridge.db.models import Order, SyncRun
from stockbridge.domain.model import SYNC_ALL
from tests.conftest import Harness
from tests.dashboard_helpers import csrf_of, log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service

PASSWORD = "correct horse battery"


@dataclass
class Shop:
    running: Running
    web: FakeWebStore
    bo: FakeBackOffice

    def counts(self) -> tuple[int, int]:
        with self.running.hub.uow() as uow:
            runs = uow.session.scalar(select(func.count(SyncRun.id)))
            orders = uow.session.scalar(select(func.count(Order.id)))
            return int(runs or 0), int(orders or 0)


@pytest.fixture
def shop(sqlite_harness: Harness) -> Iterator[Shop]:
    web, bo = FakeWebStore(), FakeBackOffice()
    for sku in ("A", "B", "GHOST"):
        web.add_variant(sku, 0)
    bo.set_item("A", 5)
    bo.set_item("B", 7)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    hub = sqlite_harness.hub
    services.sync(hub, "shop", SYNC_ALL)
    web.place_order([("A", 2)])
    web.place_order([("GHOST", 1)])
    bo.set_item("B", 9)
    accounts.add_user(hub, "ann", PASSWORD, stores=["shop"])
    running = start_service(hub)
    yield Shop(running, web, bo)
    running.server.stop()
    running.service.stop()


def test_api_dry_run_answers_the_plan_and_queues_nothing(shop: Shop) -> None:
    before = shop.counts()
    pushes, upkeep = shop.web.calls["push_inventory"], shop.web.calls["maintain"]
    with shop.running.client(shop.running.token("shop")) as api:
        answer = api.post("/api/v1/stores/shop/sync", json={"dry_run": True})
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert plan["dry_run"] is True
        assert [o["lines"] for o in plan["orders_to_post"]] == [[{"sku": "A", "quantity": 2}]]
        assert [o["lines"][0]["sku"] for o in plan["orders_refused"]] == ["GHOST"]
        changes = {c["sku"]: (c["new"], c["why"]) for c in plan["stock_changes"]}
        assert changes == {"A": (3, "withheld orders"), "B": (9, "back-office change")}
        assert plan["products_to_create"] == [] and plan["price_changes"] == []
        for body in (
            {"dry_run": True, "steps": "orders-in"},  # a preview is of Sync All
            {"dry_run": "yes"},
            {"dry_run": 1},
            {"dry_run": True, "extra": 1},
        ):
            assert api.post("/api/v1/stores/shop/sync", json=body).status_code == 422, body
        assert api.post("/api/v1/stores/nope/sync", json={"dry_run": True}).status_code == 404
    assert shop.counts() == before
    assert shop.bo.documents == []
    assert shop.web.calls["push_inventory"] == pushes and shop.web.calls["maintain"] == upkeep


def test_cli_dry_run(shop: Shop) -> None:
    app = build_app(lambda: shop.running.hub)
    before = shop.counts()
    result = CliRunner().invoke(app, ["sync", "all", "--dry-run", "--store", "shop", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["stock_change_count"] == 2 and len(plan["orders_to_post"]) == 1
    table = CliRunner().invoke(app, ["sync", "all", "--dry-run", "--store", "shop"])
    assert table.exit_code == 0 and "Orders to post: 1" in table.stdout
    unknown = CliRunner().invoke(app, ["sync", "all", "--dry-run", "--store", "nope"])
    assert unknown.exit_code == 2 and "no store named 'nope'" in unknown.output
    one_step = CliRunner().invoke(app, ["sync", "orders-in", "--dry-run", "--store", "shop"])
    assert one_step.exit_code == 2 and "previews Sync All" in one_step.output
    assert shop.counts() == before


def test_dashboard_preview_button(shop: Shop) -> None:
    before = shop.counts()
    with httpx.Client(base_url=shop.running.server.url, timeout=30) as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        overview = browser.get("/stores/shop")
        assert 'id="preview"' in overview.text
        assert browser.post("/stores/shop/preview", data={}).status_code == 403  # no CSRF
        page = browser.post("/stores/shop/preview", data={"csrf_token": csrf})
        assert page.status_code == 200, page.text
        assert "Orders that would be posted (1)" in page.text
        assert "Stock changes that would be pushed (2" in page.text
        assert csrf_of(page.text) == csrf
        other = browser.post("/stores/other/preview", data={"csrf_token": csrf})
        assert other.status_code == 404
    assert shop.counts() == before
