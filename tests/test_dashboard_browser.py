"""The dashboard in a real browser: Debian's chromium (/usr/bin/chromium, installed by
``./dev setup``) driven by Playwright, against ``stockbridge demo``'s store served by a
real ``Service`` on loopback. Exactly the issue's list; route details are in
test_dashboard_routes.py. The screenshot test writes to a temporary folder; `./dev
screenshots` runs it with STOCKBRIDGE_SCREENSHOTS=docs/screenshots to renew the README's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from stockbridge import services
from stockbridge.config import Settings
from stockbridge.demo import DEMO_STORE, GHOST_SKU, PREORDER_SKU, Demo, start_demo
from stockbridge.domain.model import SYNC_ALL, InventorySource, Step, Trigger
from stockbridge.runtime import Service
from stockbridge.sandbox_server import ServerThread
from tests.service_helpers import wait_for

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
#: Where the screenshot test writes: only `./dev screenshots` points it at docs/screenshots.
SCREENSHOTS_ENV = "STOCKBRIDGE_SCREENSHOTS"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) and os.environ.get("CI") is None,
    reason=f"{CHROMIUM} is missing: ./dev setup installs Debian's chromium",
)


@dataclass
class Site:
    demo: Demo
    service: Service
    server: ServerThread
    browser: Browser

    @property
    def url(self) -> str:
        return f"{self.server.url}/stores/{DEMO_STORE}"

    def local(self, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        assert moment is not None
        local = moment.astimezone(ZoneInfo("America/Chicago"))
        return f"{local.strftime(fmt)} {local.tzname()}"

    def status(self) -> services.StoreStatus:
        return services.store_status(self.demo.hub, DEMO_STORE)[0]

    def logged_in(self, viewport: ViewportSize = DESKTOP) -> Page:
        page = self.browser.new_context(viewport=viewport).new_page()
        page.goto(self.url)
        expect(page).to_have_url(f"{self.server.url}/login?next=/stores/{DEMO_STORE}")
        page.get_by_label("User name").fill(self.demo.user)
        page.get_by_label("Password").fill(self.demo.password)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(self.url)
        return page

    def web_quantity(self, sku: str) -> int | None:
        """The web store sandbox's stock of ``sku`` (pending writes settled)."""
        with self.demo.hub.uow() as uow:
            web = uow.stores.connection(services.resolve_store(self.demo.hub, DEMO_STORE), "web")
            assert web is not None
            store_hash = web.settings["store_hash"]
        stock_url = f"{self.demo.bigcommerce.url}/admin/stores/{store_hash}/stock"
        value = httpx.get(stock_url, params={"settle": "1"}, timeout=10).json().get(sku)
        return None if value is None else int(value)

    def clerk_sets_web(self, sku: str, quantity: int) -> None:
        """Someone sets ``sku``'s stock in BigCommerce itself (through its API)."""
        with self.demo.hub.uow() as uow:
            web = uow.stores.connection(services.resolve_store(self.demo.hub, DEMO_STORE), "web")
            assert web is not None and web.credentials is not None
            base = f"{self.demo.bigcommerce.url}/stores/{web.settings['store_hash']}/v3"
            token = self.demo.hub.cipher.decrypt(web.credentials)["access_token"]
        with httpx.Client(base_url=base, headers={"X-Auth-Token": token}, timeout=10) as bc:
            found = bc.get("/catalog/products", params={"sku": sku}).json()["data"]
            item = {"location_id": 1, "product_id": found[0]["id"], "quantity": quantity}
            bc.put("/inventory/adjustments/absolute", json={"items": [item]}).raise_for_status()

    def last_run_id(self) -> int:
        runs = services.run_history(self.demo.hub, DEMO_STORE, 1)
        return runs[0].id if runs else 0

    def press(self, page: Page, button: str) -> services.RunDetail:
        """Press a sync button; wait until the page shows that run finished. Returns it."""
        before = self.last_run_id()
        page.get_by_role("button", name=button).click()
        wait_for(lambda: self.last_run_id() > before, 10, "the run to be requested")
        run_id = self.last_run_id()
        progress = page.locator("#progress")
        expect(progress).to_have_attribute("data-latest-run", str(run_id), timeout=WAIT_MS)
        expect(progress).to_have_attribute("data-state", "idle")
        detail = services.run_detail(self.demo.hub, run_id)
        assert detail is not None
        return detail


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Store pages").get_by_role("link", name=name).click()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("dashboard") / "home"
    demo = start_demo(Settings(home=home))
    service = Service(demo.hub, tick_seconds=0.5).start()
    server = ServerThread(service.app).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield Site(demo, service, server, browser)
        browser.close()
    server.stop()
    service.stop()
    demo.stop()
    demo.hub.engine.dispose()


def test_sync_all_on_the_demo_store_shows_progress_counts_and_the_missing_sku(
    site: Site,
) -> None:
    page = site.logged_in()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/progress") else None)
    seen: list[str] = []  # what the progress area showed while the run went on
    page.expose_function("sawProgress", lambda text: seen.append(text))
    page.evaluate(
        """() => document.body.addEventListener('htmx:afterSettle', () => {
             const area = document.querySelector('#progress');
             const bars = area.querySelectorAll('progress').length;
             const cells = [...area.querySelectorAll('td.num')].map(c => c.textContent.trim());
             window.sawProgress(`${bars}|${cells.join(',')}`);
           })"""
    )
    run = site.press(page, "Sync All")
    progress = page.locator("#progress")
    assert polls, "the page never polled the run's progress"
    # While it ran: one bar per step, and items done (of the total, where a step knows it).
    assert any(re.match(r"4\|[1-9]\d* (done|/ \d+)", s) for s in seen), seen
    assert run.trigger == "manual" and run.status == "partial"
    for step, entry in run.progress.items():
        row = progress.locator(f"table.counts tr[data-step='{step}'] td")
        # read, changed (differs from what the hub had), written (sent to a partner), failed
        expect(row.nth(0)).to_have_text(str(entry.get("read", entry["done"])))
        expect(row.nth(1)).to_have_text(str(entry["changed"]))
        expect(row.nth(2)).to_have_text(str(entry.get("written") or 0))
        expect(row.nth(3)).to_have_text(str(entry["failed"]))
    expect(progress.locator("tr[data-step='orders-out'] td").nth(3)).to_have_text("2")
    errors = progress.locator(".item-errors li")
    expect(errors).to_have_count(2)  # the two demo orders with gift wrap
    for n in range(2):
        expect(errors.nth(n)).to_contain_text(f"no item in QuickBooks with SKU {GHOST_SKU}")


def test_the_sync_tooltip_shows_the_last_manual_sync_and_automatic_runs_leave_it(
    site: Site,
) -> None:
    page = site.logged_in()
    run = site.press(page, "Orders in")  # a manual run of one step
    manual = site.status().last_manual_sync_at
    assert manual == run.finished_at
    page.get_by_role("button", name="Sync All").hover()
    tooltip = page.locator("#sync-tip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_have_text(f"Last manual sync: {site.local(manual)}")

    store_id = services.resolve_store(site.demo.hub, DEMO_STORE)
    run_id, _ = site.demo.hub.runner().request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    site.service.queue.submit_run(run_id)
    wait_for(lambda: site.status().last_automatic_sync_at is not None, 60, "scheduled run")
    automatic = site.status().last_automatic_sync_at
    assert site.local(automatic) != site.local(manual)  # a Sync All of the demo takes seconds
    page.reload()
    expect(page.locator("#last-automatic")).to_have_text(site.local(automatic))
    page.get_by_role("button", name="Sync All").hover()
    expect(tooltip).to_be_visible()
    expect(tooltip).to_have_text(f"Last manual sync: {site.local(manual)}")


def test_sync_all_can_be_turned_off_and_the_daily_time_moves_the_next_run(site: Site) -> None:
    page = site.logged_in()
    expect(page.get_by_role("button", name="Sync All")).to_have_count(1)
    nav(page, "Settings")
    checkbox = page.get_by_label("Show Sync All in the back-office bar")
    expect(checkbox).to_be_checked()
    checkbox.focus()
    page.keyboard.press("Space")  # by keyboard, as a merchant without a mouse would
    page.get_by_role("button", name="Save settings").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    nav(page, "Overview")
    expect(page.get_by_role("button", name="Orders in")).to_have_count(1)
    expect(page.get_by_role("button", name="Sync All")).to_have_count(0)

    nav(page, "Settings")
    first_next = page.locator(".next-runs li").first
    expect(first_next).to_contain_text("01:00")
    page.get_by_label("Daily at").fill("13:45")
    page.get_by_role("button", name="Save schedule").click()
    expect(first_next).to_contain_text("13:45")
    expected = services.show_schedule(site.demo.hub, DEMO_STORE).schedules[0].next_runs[0]
    expect(first_next).to_have_text(site.local(expected, "%a %Y-%m-%d %H:%M"))

    # put both back for the screenshots
    services.update_store(site.demo.hub, DEMO_STORE, sync_all_button=True)
    services.set_schedule(site.demo.hub, DEMO_STORE, daily_at="01:00")


def test_a_hub_managed_quantity_edited_here_reaches_the_web_store_sandbox(site: Site) -> None:
    page = site.logged_in()
    nav(page, "Inventory")
    page.get_by_label("SKU or name").fill("lantern")
    page.get_by_role("button", name="Search").click()
    row = page.locator(f"tr[data-sku='{PREORDER_SKU}']")
    expect(row).to_have_count(1)
    expect(row.locator("td[data-label='Source of truth']")).to_have_text("hub")
    row.get_by_label(f"Hub quantity of {PREORDER_SKU}").fill("42")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("carrying it to the web store")
    wait_for(lambda: site.web_quantity(PREORDER_SKU) == 42, 60, "the quantity on the web store")


def test_a_product_assigned_and_edited_here_keeps_its_quantity_through_a_manual_sync(
    site: Site,
) -> None:
    """ "Manage inventory in BigCommerce" (web mode): the merchant assigns a product on the
    inventory page and sets its quantity there; a manual Sync All leaves it alone."""
    hub, sku = site.demo.hub, "MUG-001"
    services.update_store(hub, DEMO_STORE, inventory_source=InventorySource.WEB)
    services.sync(hub, DEMO_STORE, (Step.INVENTORY_IN,), trigger=Trigger.SCHEDULE)  # known
    try:
        page = site.logged_in()
        nav(page, "Inventory")
        page.get_by_label("SKU or name").fill(sku)
        page.get_by_role("button", name="Search").click()
        row = page.locator(f"tr[data-sku='{sku}']")
        owner = row.locator("td[data-label='Source of truth']")
        expect(owner).to_have_text("web")
        expect(row.get_by_label(f"Hub quantity of {sku}")).to_have_count(0)
        row.get_by_role("button", name=f"Assign {sku}").click()
        expect(owner).to_have_text("hub")
        row.get_by_label(f"Hub quantity of {sku}").fill("17")
        row.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("carrying it to the web store")
        wait_for(lambda: site.web_quantity(sku) == 17, 60, "the quantity on the web store")

        site.clerk_sets_web(sku, 5)  # the web's own figure now differs
        wait_for(lambda: site.web_quantity(sku) == 5, 60, "the clerk's change")
        nav(page, "Overview")
        run = site.press(page, "Sync All")  # the manual sync: the hub's 17 stands, set again
        assert run.trigger == "manual"
        detail = services.product_detail(hub, services.resolve_store(hub, DEMO_STORE), sku)
        assert detail is not None and detail.assigned
        assert [level.hub for level in detail.stock if level.location == "default"] == [17]
        assert site.web_quantity(sku) == 17
        nav(page, "Inventory")
        page.get_by_label("SKU or name").fill(sku)
        page.get_by_role("button", name="Search").click()
        expect(row.get_by_label(f"Hub quantity of {sku}")).to_have_value("17")
    finally:
        services.update_store(hub, DEMO_STORE, inventory_source=InventorySource.BACK_OFFICE)


def test_a_post_without_the_csrf_token_is_refused_and_visitors_must_log_in(site: Site) -> None:
    visitor = site.browser.new_page()
    visitor.goto(f"{site.url}/settings")
    expect(visitor).to_have_url(f"{site.server.url}/login?next=/stores/{DEMO_STORE}/settings")
    expect(visitor.get_by_role("heading", name="Log in")).to_be_visible()
    visitor.close()

    page = site.logged_in()
    nav(page, "Settings")
    before = services.describe_store(site.demo.hub, DEMO_STORE)
    page.get_by_label("ERP name").fill("Forged ERP")
    page.eval_on_selector_all("input[name=csrf_token]", "nodes => nodes.forEach(n => n.remove())")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("security token")
    assert services.describe_store(site.demo.hub, DEMO_STORE) == before
    answer = page.request.post(f"{site.url}/sync", form={"steps": "all"})
    assert answer.status == 403


def test_screenshots_of_the_main_pages_at_desktop_and_phone_width(
    site: Site, tmp_path: Path
) -> None:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    site.press(site.logged_in(), "Sync All")  # the overview shows a whole run and its errors
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = site.logged_in(viewport)
        for name, path in (
            ("overview", ""),
            ("history", "/history"),
            ("settings", "/settings"),
            ("inventory", "/inventory?q=lantern"),
        ):
            page.goto(site.url + path)
            page.locator("body").click(position={"x": 1, "y": 1})  # no focus ring or tooltip
            target = folder / f"{name}-{label}.png"
            page.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 10_000
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} scrolls sideways at {label} width"
        page.context.close()
