"""The API twins of dashboard forms that had none, over HTTP against the BigCommerce
sandbox and a feed server on loopback: retrying a run's failed items, the catalog settings
and the drift threshold in PATCH settings, connecting a web store or a feed, "test this
source", QuickBooks Desktop/POS through the Web Connector (API and dashboard form) and its
status. Bad input is a clear 422 with nothing saved; another store's token gets 404."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.cli import build_app
from stockbridge.domain.model import InventorySource, Step
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.feed_support import (
    FeedServer,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
)
from tests.service_helpers import Running, start_service

PASSWORD = "a long passphrase"


def _key(n: str) -> dict[str, str]:
    return {"Idempotency-Key": f"push-{n}"}


@pytest.fixture
def site(tmp_path: Path, feed_server: FeedServer) -> Iterator[Running]:
    hub = make_hub(tmp_path)
    accounts.add_user(hub, "op", PASSWORD, operator=True)
    feed_server.files["stock.csv"] = b"sku,quantity,name\nTEE-1,5,Tee\nMUG,x,Mug\n"
    for name in ("shop", "other"):
        services.add_store(hub, name)
    r = start_service(hub)
    yield r
    r.stop()
    hub.engine.dispose()


def test_retry_failed_items_through_the_api(sqlite_harness: Harness) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("TEE-1", 0)
    bo.set_item("TEE-1", 5)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    sqlite_harness.add_store("other", web=FakeWebStore(), back_office=FakeBackOffice())
    hub = sqlite_harness.hub
    order = web.place_order([("TEE-1", 1), ("GIFTWRAP", 1)])
    first = services.sync(hub, "shop")
    assert first.status.value == "partial"
    r = start_service(hub)
    try:
        with r.client(r.token("other")) as api:  # another store's token: as if it did not exist
            assert api.post(f"/api/v1/stores/shop/runs/{first.run_id}/retry").status_code == 404
        with r.client(r.token("shop")) as api:
            assert api.post("/api/v1/stores/shop/runs/999/retry").status_code == 404
            bo.set_item("GIFTWRAP", 10)
            answer = api.post(f"/api/v1/stores/shop/runs/{first.run_id}/retry")
            assert answer.status_code == 202, answer.text
            detail = r.wait_run(answer.json()["run_id"])
            assert detail.steps == (Step.ORDERS_OUT,) and detail.status == "succeeded"
            assert len(bo.documents_for(order.web_id)) == 1
            again = api.post(f"/api/v1/stores/shop/runs/{detail.id}/retry")
            assert again.status_code == 409 and "error" in again.json()
    finally:
        r.stop()


def test_catalog_settings_and_the_drift_threshold_in_patch_settings(site: Running) -> None:
    with site.client(site.token("shop")) as api:
        changed = api.patch(
            "/api/v1/stores/shop/settings",
            json={
                "catalog_new_visible": True,
                "catalog_create_new": False,
                "catalog_price_source": "web",
                "catalog_push_names": True,
                "catalog_inactive": "hide",
                "drift_threshold": 25,
            },
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["catalog_new_visible"], body["catalog_create_new"]) == (True, False)
        assert (body["catalog_price_source_set"], body["catalog_inactive"]) == ("web", "hide")
        assert body["catalog_push_names"] is True and body["drift_threshold"] == 25
        before = services.describe_store(site.hub, "shop")
        for bad in (
            {"catalog_new_visible": "yes"},
            {"catalog_inactive": "delete"},
            {"drift_threshold": -1},
            {"drift_threshold": 25, "catalog_price_source": "erp"},  # one bad: none saved
        ):
            refused = api.patch("/api/v1/stores/shop/settings", json={**bad, "erp_name": "X"})
            assert refused.status_code == 422, (bad, refused.text)
        assert services.describe_store(site.hub, "shop") == before


def test_connect_a_web_store_and_a_feed_and_test_the_source(
    site: Running, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    source = {"source": feed_server.url("stock.csv"), "location_field": "", "price_field": ""}
    with site.client(site.token()) as api:
        wrong = api.put(
            "/api/v1/stores/shop/connections/web",
            json={
                "store_hash": bc_store.hash,
                "access_token": "nope",
                "api_url": bc_store.server.url,
            },
        )
        assert wrong.status_code == 422 and "refused the credentials" in wrong.json()["error"]
        assert "nope" not in wrong.text
        assert services.describe_store(site.hub, "shop").connections == ()
        made = api.put(
            "/api/v1/stores/shop/connections/web",
            json={
                "store_hash": bc_store.hash,
                "access_token": bc_store.token,
                "api_url": bc_store.server.url,
            },
        )
        assert made.status_code == 200, made.text
        assert bc_store.token not in made.text

        tried = api.post("/api/v1/stores/shop/connections/feed/preview", json=source)
        assert tried.status_code == 200, tried.text
        rows = tried.json()["rows"]
        assert [(r["sku"], r["quantity"]) for r in rows] == [("TEE-1", "5"), ("MUG", "x")]
        roles = [c.role for c in services.describe_store(site.hub, "shop").connections]
        assert roles == ["web"]  # a test saves nothing
        bad = api.post(
            "/api/v1/stores/shop/connections/feed/preview", json={**source, "format": "xml"}
        )
        assert bad.status_code == 422
        connected = api.put("/api/v1/stores/shop/connections/feed", json=source)
        assert connected.status_code == 200, connected.text
        kinds = {c.role: c.kind for c in services.describe_store(site.hub, "shop").connections}
        assert kinds == {"web": "bigcommerce", "back_office": "feed"}
        shown = api.get("/api/v1/stores/shop/settings").json()["connections"]
        assert {c["role"]: c["account"] for c in shown}["web"] == bc_store.hash
    with site.client(site.token("other")) as api:  # a store token: its own store only
        assert api.put("/api/v1/stores/shop/connections/feed", json=source).status_code == 404
        other_url = {**source, "source": "/etc"}
        assert api.put("/api/v1/stores/other/connections/feed", json=other_url).status_code == 422


def test_quickbooks_desktop_connects_from_the_api_and_the_dashboard(site: Running) -> None:
    with site.client(site.token("shop")) as api:
        assert api.get("/api/v1/stores/shop/qbwc").status_code == 404  # not connected yet
        bad = api.put(
            "/api/v1/stores/shop/connections/qbwc",
            json={"flavour": "desktop", "app_url": "http://example.com/qbwc"},
        )
        assert bad.status_code == 422 and "https" in bad.json()["error"]
        assert services.describe_store(site.hub, "shop").connections == ()
        made = api.put(
            "/api/v1/stores/shop/connections/qbwc",
            json={"flavour": "pos", "app_url": "https://hub.example.com/qbwc"},
        )
        assert made.status_code == 200, made.text
        answer = made.json()
        assert answer["user_name"] == "stockbridge-shop" and len(answer["password"]) >= 12
        assert "<AppURL>https://hub.example.com/qbwc</AppURL>" in answer["qwc"]
        status = api.get("/api/v1/stores/shop/qbwc").json()
        assert status["flavour"] == "pos" and status["last_call_at"] is None
        assert status["orders_waiting"] == 0
        assert api.get("/api/v1/stores/other/qbwc").status_code == 404
    browser = httpx.Client(base_url=site.server.url, timeout=30)
    with closing(browser):
        csrf = log_in(browser, "op", PASSWORD)
        setup = browser.get("/stores/other/setup").text
        assert 'action="/stores/other/setup/qbwc"' in setup
        refused = browser.post(
            "/stores/other/setup/qbwc",
            data={"csrf_token": csrf, "flavour": "enterprise", "app_url": "https://h.example/qbwc"},
        )
        assert refused.status_code == 422 and "nothing was saved" in refused.text
        assert services.describe_store(site.hub, "other").connections == ()
        done = browser.post(
            "/stores/other/setup/qbwc",
            data={"csrf_token": csrf, "flavour": "desktop", "app_url": "https://h.example/qbwc"},
        )
        assert done.status_code == 200, done.text
        assert 'id="qbwc-password">' in done.text and "/stores/other/qbwc.qwc" in done.text
        assert services.describe_store(site.hub, "other").connections[0].kind == "qbwc"
        forged = browser.post("/stores/other/setup/qbwc", data={"flavour": "desktop"})
        assert forged.status_code == 403  # no CSRF token


def test_an_alert_email_is_refused_while_no_smtp_server_is_configured(site: Running) -> None:
    assert site.hub.settings.smtp_host is None
    with site.client(site.token("shop")) as api:
        refused = api.patch(
            "/api/v1/stores/shop/settings",
            json={"alert_email": "owner@shop.test", "erp_name": "Acme"},
        )
        assert refused.status_code == 422
        assert "STOCKBRIDGE_SMTP_HOST" in refused.json()["error"]
    browser = httpx.Client(base_url=site.server.url, timeout=30)
    with closing(browser):
        csrf = log_in(browser, "op", PASSWORD)
        form = {"csrf_token": csrf, "inventory_source": "back_office"}
        page = browser.post("/stores/shop/settings", data={**form, "alert_email": "o@shop.test"})
        assert page.status_code == 422 and "needs an SMTP server" in page.text
    app = build_app(lambda: site.hub)
    ran = CliRunner().invoke(app, ["store", "set", "shop", "--alert-email", "o@shop.test"])
    assert ran.exit_code == 2 and "STOCKBRIDGE_SMTP_HOST" in ran.output
    settings = services.describe_store(site.hub, "shop")
    assert (settings.alert_email, settings.erp_name) == (None, None)  # nothing half-saved
    site.hub.settings.smtp_host = "127.0.0.1"  # once configured, the address is taken
    assert services.update_store(site.hub, "shop", alert_email="o@shop.test").alert_email


def test_an_unknown_sku_before_the_first_sync_says_to_run_sync_all(
    sqlite_harness: Harness,
) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("TEE-1", 0)
    sqlite_harness.add_store("shop", source=InventorySource.API, web=web, back_office=bo)
    hub = sqlite_harness.hub
    app = build_app(lambda: hub)
    r = start_service(hub)
    try:
        with r.client(r.token("shop")) as api:
            push = {"items": [{"sku": "TEE-1", "quantity": 3}]}
            early = api.post("/api/v1/stores/shop/inventory", json=push, headers=_key("1"))
            assert early.status_code == 422
            assert "never been synced" in early.json()["error"]
            assert "stockbridge sync all --store shop" in early.json()["error"]
            assigned = CliRunner().invoke(app, ["product", "assign", "TEE-1", "--store", "shop"])
            assert assigned.exit_code == 2 and "never been synced" in assigned.output
            services.sync(hub, "shop")
            ok = api.post("/api/v1/stores/shop/inventory", json=push, headers=_key("2"))
            assert ok.status_code == 202, ok.text
            ghost = {"items": [{"sku": "GHOST", "quantity": 3}]}
            later = api.post("/api/v1/stores/shop/inventory", json=ghost, headers=_key("3")).json()[
                "error"
            ]
            assert "never been synced" not in later and "add it there, then sync" in later
    finally:
        r.stop()
