"""A new merchant's path in a real browser (Debian's chromium driven by Playwright), from
an empty hub to a first successful Sync All, with the BigCommerce sandbox as the web store
and a feed on loopback as the back office: nothing on the command line but the operator's
account. The screenshot test writes to a temporary folder; `./dev screenshots` (or
`./dev screenshots setup` for these pages only) points it at docs/screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.domain.model import RunStatus
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import SandboxStore, new_store
from tests.feed_support import FeedServer, make_hub, seed_web
from tests.service_helpers import Running, start_service, wait_for
from tests.test_dashboard_browser import ARGS, CHROMIUM, DESKTOP, PHONE, SCREENSHOTS_ENV, WAIT_MS

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) and os.environ.get("CI") is None,
    reason=f"{CHROMIUM} is missing: ./dev setup installs Debian's chromium",
)

OPERATOR, PASSWORD = "olivia", "operator passphrase"
STORE = "Corner Shop"
FEED = b"sku,quantity,name\nTEE-1,12,Tee\nTEE-2,4,Tee two\nMUG-1,9,Mug\n"


@dataclass
class Site:
    running: Running
    bc: SandboxStore
    feed: FeedServer
    browser: Browser

    @property
    def hub(self) -> Hub:
        return self.running.hub

    @property
    def url(self) -> str:
        return self.running.server.url

    def logged_in(self, viewport: ViewportSize = DESKTOP) -> Page:
        page = self.browser.new_context(viewport=viewport).new_page()
        page.goto(self.url)
        page.get_by_label("User name").fill(OPERATOR)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        return page


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    bc_sandbox: tuple[BigCommerceSandbox, ServerThread],
) -> Iterator[Site]:
    hub = make_hub(tmp_path_factory.mktemp("setup"))
    accounts.add_user(hub, OPERATOR, PASSWORD, operator=True)  # the one CLI step
    bc = new_store(*bc_sandbox)
    seed_web(bc, {"TEE-1": 0, "TEE-2": 0, "MUG-1": 0})
    feed = FeedServer(files={"stock.csv": FEED})
    with ServerThread(feed.app()) as feed_server, sync_playwright() as playwright:
        feed.server = feed_server
        running = start_service(hub)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield Site(running, bc, feed, browser)
        browser.close()
        running.server.stop()
        running.service.stop()
    hub.engine.dispose()


def test_a_new_merchant_goes_from_an_empty_hub_to_a_first_successful_sync_all(
    site: Site,
) -> None:
    page = site.logged_in()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    page.get_by_role("link", name="Set up your first store").click()

    # the store
    page.get_by_label("Store name").fill(STORE)
    page.get_by_label("Time zone").fill("America/Chicago")
    page.get_by_label("back office", exact=False).first.check()
    page.get_by_role("button", name="Add store").click()
    expect(page.get_by_role("heading", name=f"Set up {STORE}")).to_be_visible()

    # the back office's QuickBooks button starts the consent flow for this store
    qbo = page.get_by_role("link", name="Connect to QuickBooks")
    expect(qbo).to_have_attribute("href", "/oauth/qbo/start?store=Corner%20Shop")

    # the web store: a wrong token first, refused and not shown back
    page.get_by_label("Store hash").fill(site.bc.hash)
    page.get_by_label("Access token").fill("not-the-token")
    page.get_by_label("API URL").fill(site.bc.server.url)
    page.get_by_role("button", name="Connect web store").click()
    expect(page.locator("#web-error")).to_contain_text("refused the credentials")
    expect(page.get_by_label("Access token")).to_have_value("")
    expect(page.get_by_label("Store hash")).to_have_value(site.bc.hash)
    page.get_by_label("Access token").fill(site.bc.token)
    page.get_by_role("button", name="Connect web store").click()
    expect(page.get_by_role("status")).to_have_text("Web store connected.")

    # the back office: a feed, tested first
    page.get_by_label("Source", exact=True).fill(site.feed.url("stock.csv"))
    page.get_by_label("Location column").fill("")
    page.get_by_label("Price column").fill("")
    page.get_by_role("button", name="Test this source").click()
    preview = page.get_by_role("region", name="Preview")
    expect(preview.locator("tbody tr")).to_have_count(3)
    expect(preview.locator("tr[data-line='2'] td").nth(1)).to_have_text("TEE-1")
    expect(preview.locator("tr[data-line='2'] td").nth(2)).to_have_text("12")
    assert services.describe_store(site.hub, STORE).connections[0].role == "web"  # a look only
    page.get_by_role("button", name="Connect feed").click()
    expect(page.get_by_role("status")).to_have_text("Back office connected.")

    # when it syncs
    page.get_by_label("Sync All by itself").check()
    page.get_by_label("Daily at").fill("02:30")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("status")).to_have_text("Schedule saved.")
    schedule = services.show_schedule(site.hub, STORE).schedules[0]
    assert (schedule.enabled, schedule.daily_at) == (True, "02:30")

    # the first API token, shown once
    page.get_by_role("link", name="Open the API tokens page").click()
    page.get_by_label("Days until it expires").fill("90")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("API token").input_value()
    assert token.startswith("sbt_")
    answer = page.request.get(
        f"{site.url}/api/v1/stores/Corner%20Shop/status",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status == 200
    page.goto(f"{site.url}/stores/Corner%20Shop/tokens")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("#tokens tbody tr")).to_have_count(1)

    # a user for the shop
    page.get_by_role("navigation", name="Store pages").get_by_role("link", name="Setup").click()
    page.get_by_label("New user's name").fill("sam")
    page.get_by_label("Password (at least 8").fill("sam's passphrase")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_have_text("User added: they can log in now.")
    assert [u.stores for u in accounts.list_users(site.hub) if u.name == "sam"] == [(STORE,)]

    # Sync All: hidden until turned on in the Options (General), then in the back-office bar
    page.get_by_role("link", name="Go to the overview").click()
    expect(page.get_by_role("button", name="Sync All")).to_have_count(0)
    page.get_by_role("link", name="Options (General)").click()
    page.get_by_label("Show Sync All in the back-office bar").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    bar = page.get_by_role("region", name="Back-office bar")
    expect(bar).to_contain_text("Back office: ERP feed")  # on the Settings page too
    page.get_by_role("navigation", name="Store pages").get_by_role("link", name="Inventory").click()
    expect(bar.get_by_role("button", name="Sync All")).to_have_count(1)
    page.get_by_role("navigation", name="Store pages").get_by_role("link", name="Overview").click()
    bar.get_by_role("button", name="Sync All").hover()
    expect(page.locator("#sync-tip")).to_be_visible()
    expect(page.locator("#sync-tip")).to_have_text("Last manual sync: never")

    # the first Sync All, from the bar
    bar.get_by_role("button", name="Sync All").click()
    wait_for(lambda: services.run_history(site.hub, STORE, 1), 10, "the run to be requested")
    run_id = services.run_history(site.hub, STORE, 1)[0].id
    progress = page.locator("#progress")
    expect(progress).to_have_attribute("data-latest-run", str(run_id), timeout=WAIT_MS)
    run = services.run_detail(site.hub, run_id)
    assert run is not None and run.status is RunStatus.SUCCEEDED, run
    assert run.trigger == "manual"
    assert site.bc.stock() == {"TEE-1": 12, "TEE-2": 4, "MUG-1": 9}
    # the bar's tooltip now names that manual sync, in the store's time zone
    assert run.finished_at is not None
    local = run.finished_at.astimezone(ZoneInfo(services.describe_store(site.hub, STORE).timezone))
    bar.get_by_role("button", name="Sync All").hover()
    expect(page.locator("#sync-tip")).to_have_text(
        f"Last manual sync: {local.strftime('%Y-%m-%d %H:%M:%S')} {local.tzname()}"
    )


def test_screenshots_of_the_setup_pages_at_desktop_and_phone_width(
    site: Site, tmp_path: Path
) -> None:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    if not services.list_stores(site.hub):  # run alone: a store to show
        services.add_store(site.hub, STORE, timezone="America/Chicago")
    base = f"{site.url}/stores/Corner%20Shop"
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = site.logged_in(viewport)
        for name, path in (("setup-store", "/setup"), ("setup", "/setup"), ("tokens", "/tokens")):
            page.goto(site.url + path if name == "setup-store" else base + path)
            if name == "setup":
                page.get_by_label("Source", exact=True).fill(site.feed.url("stock.csv"))
                page.get_by_role("button", name="Test this source").click()
                expect(page.get_by_role("region", name="Preview")).to_be_visible()
            page.locator("body").click(position={"x": 1, "y": 1})
            target = folder / f"{name}-{label}.png"
            page.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 10_000
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} scrolls sideways at {label} width"
        page.context.close()
