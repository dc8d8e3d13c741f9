"""Sync All where the seed puts it: hidden for every new store whichever path made it (CLI,
API, the dashboard's Add store form; the app install is in test_bigcommerce_app.py), turned
on in the store's Options (General) only, and then shown in the back-office bar on every
page of the store with the back office's name and the last manual sync."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.cli import build_app
from stockbridge.domain.model import SYNC_ALL, InventorySource, Trigger
from stockbridge.services.onboarding import FeedForm, connect_feed
from tests.dashboard_helpers import log_in
from tests.feed_support import (
    FeedServer,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
)
from tests.service_helpers import Running, start_service

PASSWORD = "a long passphrase"
EXE = str(Path(sys.executable).with_name("stockbridge"))
#: Every page of a store that carries the bar (the drift page reads the web store: apart).
PAGES = ("", "/history", "/inventory", "/rejected", "/settings", "/tokens", "/setup")


@pytest.fixture
def running(tmp_path: Path, feed_server: FeedServer) -> Iterator[Running]:
    hub = make_hub(tmp_path)
    accounts.add_user(hub, "op", PASSWORD, operator=True)
    feed_server.files["stock.csv"] = b"sku,quantity\nTEE-1,5\n"
    r = start_service(hub)
    yield r
    r.stop()
    hub.engine.dispose()


def _browser(r: Running) -> tuple[httpx.Client, str]:
    browser = httpx.Client(base_url=r.server.url, timeout=30)
    return browser, log_in(browser, "op", PASSWORD)


def _hidden(hub: Hub, store: str, browser: httpx.Client) -> None:
    assert services.describe_store(hub, store).sync_all_button is False
    for path in PAGES:
        page = browser.get(f"/stores/{store}{path}")
        assert page.status_code == 200, (path, page.text)
        assert 'id="sync-all"' not in page.text and 'id="office-bar"' not in page.text, path


def test_a_store_made_by_the_cli_hides_sync_all(tmp_path: Path) -> None:
    env = {**os.environ, "STOCKBRIDGE_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    for args in (("init",), ("store", "add", "shop")):
        done = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
    shown = subprocess.run(
        [EXE, "store", "show", "shop"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "Sync All: hidden" in shown.stdout, shown.stdout


def test_stores_made_by_the_api_and_the_dashboard_hide_sync_all(running: Running) -> None:
    operator = running.token()
    with running.client(operator) as api:
        made = api.post("/api/v1/stores", json={"name": "by-api"})
        assert made.status_code == 201 and made.json()["sync_all_button"] is False
        forged = api.post("/api/v1/stores", json={"name": "forged", "sync_all_button": True})
        assert forged.status_code == 422  # only the Options turn it on; nothing made
    assert [s.name for s in services.list_stores(running.hub)] == ["by-api"]
    browser, csrf = _browser(running)
    with closing(browser):
        # even a form that asks for it (an old page, a hand-made post) makes it hidden
        form = {"csrf_token": csrf, "name": "by-form", "sync_all_button": "on"}
        assert browser.post("/setup", data=form).status_code == 303
        add_page = browser.get("/setup").text
        assert 'name="sync_all_button"' not in add_page and "Options (General)" in add_page
        for store in ("by-api", "by-form"):
            _hidden(running.hub, store, browser)
            refused = browser.post(
                f"/stores/{store}/sync", data={"csrf_token": csrf, "steps": "all"}
            )
            assert refused.status_code == 409 and "Options (General)" in refused.text
        assert services.run_history(running.hub, "by-form", 5) == []


def test_the_options_turn_on_the_bar_on_every_page_with_the_back_office_and_last_sync(
    running: Running, feed_server: FeedServer
) -> None:
    hub = running.hub
    services.add_store(hub, "shop", timezone="America/Chicago")
    browser, csrf = _browser(running)
    with closing(browser):
        settings = browser.get("/stores/shop/settings").text
        assert "General" in settings and "Show Sync All in the back-office bar" in settings
        saved = browser.post(
            "/stores/shop/settings",
            data={"csrf_token": csrf, "inventory_source": "back_office", "sync_all_button": "on"},
        )
        assert saved.status_code == 303, saved.text
        assert services.describe_store(hub, "shop").sync_all_button is True
        for path in PAGES:
            page = browser.get(f"/stores/shop{path}").text
            assert page.count('id="sync-all"') == 1, path
            assert '<strong id="office-name">not connected yet</strong>' in page, path
        connect_feed(hub, "shop", FeedForm(source=feed_server.url("stock.csv")), trusted=True)
        store_id = services.resolve_store(hub, "shop")
        run_id, _ = hub.runner().request(store_id, SYNC_ALL, Trigger.MANUAL)
        running.service.queue.submit_run(run_id)
        finished = running.wait_run(run_id).finished_at
        assert finished is not None
        page = browser.get("/stores/shop/history").text
        assert '<strong id="office-name">ERP feed</strong>' in page
        local = finished.astimezone(ZoneInfo("America/Chicago"))
        shown = f"{local.strftime('%Y-%m-%d %H:%M:%S')} {local.tzname()}"
        assert f'id="lm-all">{shown}</span>' in page
        # the bar's button runs Sync All from any page, then lands on the overview
        pressed = browser.post("/stores/shop/sync", data={"csrf_token": csrf, "steps": "all"})
        assert pressed.status_code == 303 and pressed.headers["location"] == "/stores/shop"


def test_modes_and_steps_in_the_seeds_words_and_the_syncing_procedures_page(
    running: Running,
) -> None:
    services.add_store(running.hub, "shop", inventory_source=InventorySource.ERP_VIA_WEB)
    browser, _csrf = _browser(running)
    with closing(browser):
        settings = browser.get("/stores/shop/settings").text
        for title in (
            "Manage inventory in BigCommerce",
            "Manage inventory in ERP",
            "Sync inventory via the API",
            "The back office is the master",
        ):
            assert f"<strong>{title}</strong>" in settings
        # the schedule and the alert settings link to the help page
        assert settings.count('/stores/shop/help/syncing#often-h"') == 1
        assert settings.count('/stores/shop/help/syncing#auto-h"') == 1
        overview = browser.get("/stores/shop").text
        for step in ("Orders in", "Orders out", "Sync data from the back office"):
            assert f">{step}</button>" in overview
        assert ">Sync data to the web</button>" in overview and ">Inventory in<" not in overview
        help_page = browser.get("/stores/shop/help/syncing")
        assert help_page.status_code == 200
        text = help_page.text
        steps = [text.index(s) for s in ("Orders in", "Orders out", "Sync data from the back")]
        assert steps == sorted(steps)  # in the order Sync All runs them
        for factor in ("In-store sales", "Phone and wholesale orders", "New products"):
            assert factor in text
        assert "Drop-ship suppliers" in text and "business days" in text
        row = re.search(r'<tr data-mode="erp_via_web" class="current">(.*?)</tr>', text, re.S)
        assert row is not None and "Manage inventory in ERP" in row.group(1)
        assert "ERP → BigCommerce → Stockbridge" in row.group(1)
        assert text.count("<tr data-mode=") == 4  # one row per mode
    with running.client(running.token("shop")) as api:  # the API keeps the machine ids
        assert api.get("/api/v1/stores/shop/settings").json()["inventory_source"] == "erp_via_web"
        other = api.get("/api/v1/stores/other/settings")
        assert other.status_code == 404
    shown = CliRunner().invoke(build_app(lambda: running.hub), ["store", "show", "shop"])
    assert "inventory_source: erp_via_web (Manage inventory in ERP)" in shown.output
