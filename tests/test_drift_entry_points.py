"""Drift through its entry points: the API (report, repair, the Prometheus gauge), the CLI
and the dashboard (counts, filters, CSV, Repair), with bad input; and the alert when the
drift stays above the store's threshold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.alert_rules import drift_stays_above
from stockbridge.alerts import Alerter
from stockbridge.cli import build_app
from stockbridge.db.models import DriftCheck
from stockbridge.domain.model import DEFAULT_LOCATION, SYNC_ALL, RunStatus
from stockbridge.metrics.database import register_database_gauges
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service, wait_for

PASSWORD = "correct horse battery"


@dataclass
class Shop:
    running: Running
    web: FakeWebStore
    bo: FakeBackOffice

    def drift_behind_the_hubs_back(self) -> None:
        self.web.stock[("A", DEFAULT_LOCATION)] = 99
        self.web.stock[("B", DEFAULT_LOCATION)] = 0


@pytest.fixture
def shop(sqlite_harness: Harness) -> Iterator[Shop]:
    web, bo = FakeWebStore(), FakeBackOffice()
    for sku in ("A", "B", "C"):
        web.add_variant(sku, 0)
    bo.set_item("A", 5)
    bo.set_item("B", 7)
    bo.set_item("C", 9)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    services.add_store(sqlite_harness.hub, "other")
    services.sync(sqlite_harness.hub, "shop", SYNC_ALL)
    accounts.add_user(sqlite_harness.hub, "ann", PASSWORD, stores=["shop"])
    running = start_service(sqlite_harness.hub)
    yield Shop(running, web, bo)
    running.server.stop()
    running.service.stop()


def test_drift_api_cli_and_dashboard(shop: Shop) -> None:
    shop.drift_behind_the_hubs_back()
    hub = shop.running.hub
    with shop.running.client(shop.running.token("shop")) as api:
        report = api.get("/api/v1/stores/shop/drift").json()
        assert report["counts"] == {"web-differs": 2, "web-only": 0, "hub-only": 0}
        assert {e["sku"]: (e["web"], e["should"]) for e in report["entries"]} == {
            "A": (99, 5),
            "B": (0, 7),
        }
        assert report["prices"] == []
        assert "stockbridge_drift_skus_max 2.0" in api.get("/metrics").text
        assert api.get("/api/v1/stores/nope/drift").status_code == 404
        assert api.get("/api/v1/stores/other/drift").status_code == 404  # not this token's
        assert api.post("/api/v1/stores/other/drift/repair").status_code == 404

    app = build_app(lambda: hub)
    listed = CliRunner().invoke(app, ["drift", "--store", "shop", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["total"] == 2
    assert CliRunner().invoke(app, ["drift", "--store", "nope"]).exit_code == 2

    with httpx.Client(base_url=shop.running.server.url, timeout=30) as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        offer = browser.get("/stores/shop/drift")  # a GET reads no partner
        assert offer.status_code == 200 and 'id="check-drift"' in offer.text
        assert "web-differs</td>" not in offer.text
        form = {"csrf_token": csrf}
        assert browser.post("/stores/shop/drift", data={}).status_code == 403  # no CSRF token
        page = browser.post("/stores/shop/drift", data=form)
        assert page.status_code == 200 and 'id="repair"' in page.text
        assert page.text.count("web-differs</td>") == 2
        only_a = browser.post("/stores/shop/drift", data={**form, "q": "a"})
        assert only_a.text.count("web-differs</td>") == 1
        assert browser.post("/stores/shop/drift", data={**form, "kind": "bogus"}).status_code == 422
        assert browser.post("/stores/shop/drift", data={**form, "q": "x" * 101}).status_code == 422
        exported = browser.post("/stores/shop/drift.csv", data={**form, "kind": "web-differs"})
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["cache-control"] == "no-store"
        assert sorted(exported.text.splitlines()[1:]) == [
            "A,default,web-differs,99,5,5",
            "B,default,web-differs,0,7,7",
        ]
        assert browser.get("/stores/shop/drift.csv").status_code == 405
        assert browser.get("/stores/other/drift").status_code == 404
        assert browser.post("/stores/shop/drift/repair", data={}).status_code == 403
        repaired = browser.post("/stores/shop/drift/repair", data={"csrf_token": csrf})
        assert repaired.status_code == 303
    wait_for(lambda: shop.web.stock[("A", DEFAULT_LOCATION)] == 5)
    wait_for(
        lambda: all(r.status.finished for r in services.run_history(hub, "shop", 5)),
    )
    last = services.run_history(hub, "shop", 1)[0]
    assert last.trigger.value == "repair" and last.status is RunStatus.SUCCEEDED
    assert shop.web.stock[("B", DEFAULT_LOCATION)] == 7
    with shop.running.client(shop.running.token()) as operator:
        assert operator.get("/api/v1/stores/shop/drift").json()["total"] == 0
        metrics = operator.get("/metrics").text
    assert "stockbridge_drift_skus_max 0.0" in metrics  # no store names without the token


def test_api_repair_is_queued_and_runs(shop: Shop) -> None:
    shop.drift_behind_the_hubs_back()
    with shop.running.client(shop.running.token("shop")) as api:
        answer = api.post("/api/v1/stores/shop/drift/repair")
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["run_id"]
    hub = shop.running.hub
    wait_for(lambda: hub.runner().report(run_id).status.finished)
    assert hub.runner().report(run_id).steps["inventory-out"]["done"] == 2
    assert shop.web.stock[("A", DEFAULT_LOCATION)] == 5


def test_drift_alert_when_it_stays_above_the_threshold(sqlite_harness: Harness) -> None:
    hub = sqlite_harness.hub
    store_id = sqlite_harness.add_store("shop")
    services.update_store(hub, "shop", drift_threshold=2)
    alerter = Alerter(hub.uow, [])

    def measured(*counts: int) -> list[str]:
        with hub.uow() as uow:
            for count in counts:
                uow.catalog.record_drift(store_id, "report", count)
            uow.commit()
        alerter.check(datetime.now(UTC))
        with hub.uow() as uow:
            return [kind for (_store, kind) in uow.alerts.open_incidents() if kind == "drift"]

    assert measured(5, 5) == []  # two checks: not yet
    assert measured(1) == []  # and the streak broken
    assert measured(3, 4) == []
    assert measured(9) == ["drift"]  # 3, 4, 9: above 2 three times in a row
    with hub.uow() as uow:
        uow.catalog.record_drift(store_id, "repair", 9)  # a repair's record does not count
        uow.commit()
    assert measured(0) == []  # resolved
    registry = CollectorRegistry()
    register_database_gauges(registry, hub.uow, per_store=True)
    assert 'stockbridge_drift_skus{store="shop"} 0.0' in generate_latest(registry).decode()
    with pytest.raises(services.InvalidSetting):
        services.update_store(hub, "shop", drift_threshold=-1)


@pytest.mark.parametrize(
    ("counts", "threshold", "fires"),
    [([11, 12, 13], 10, True), ([11, 12], 10, False), ([11, 10, 13], 10, False), ([], 0, False)],
)
def test_drift_stays_above(counts: list[int], threshold: int, fires: bool) -> None:
    assert drift_stays_above(counts, threshold) is fires


def _drift_checks(shop: Shop) -> int:
    with shop.running.hub.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(DriftCheck)) or 0)


def test_opening_the_drift_page_reads_no_partner_and_records_no_check(shop: Shop) -> None:
    """Issue 27, row 8: a GET (a cross-site link, an image) has no side effect; the check
    is a POST with the session's CSRF token."""
    shop.drift_behind_the_hubs_back()
    checks, reads = _drift_checks(shop), sum(shop.web.calls.values())
    with httpx.Client(base_url=shop.running.server.url, timeout=30) as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        for _ in range(3):
            assert browser.get("/stores/shop/drift").status_code == 200
            assert browser.get("/stores/shop/drift.csv").status_code == 405
        assert (_drift_checks(shop), sum(shop.web.calls.values())) == (checks, reads)
        assert browser.post("/stores/shop/drift", data={}).status_code == 403
        assert _drift_checks(shop) == checks
        assert browser.post("/stores/shop/drift", data={"csrf_token": csrf}).status_code == 200
    assert _drift_checks(shop) == checks + 1
    assert sum(shop.web.calls.values()) > reads
