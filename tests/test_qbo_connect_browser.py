""" "Connect to QuickBooks" end to end in Chromium (Playwright driving /usr/bin/chromium)
against the sandbox's consent page, and `stockbridge connect qbo --browser` completed by
the running service through its one-time link."""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from typer.testing import CliRunner

from stockbridge.cli import build_app
from tests.oauth_support import PASSWORD, Site, fresh_site, served_site  # noqa: F401
from tests.qbo_support import CLIENT_ID, CLIENT_SECRET
from tests.test_dashboard_browser import ARGS, CHROMIUM


@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) and os.environ.get("CI") is None,
    reason=f"{CHROMIUM} is missing: ./dev setup installs Debian's chromium",
)
def test_connect_and_disconnect_in_chromium_through_the_consent_page(site: Site) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{site.url}/stores/shop")
        page.get_by_label("User name").fill("ann")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{site.url}/stores/shop")
        page.get_by_role("link", name="Connect to QuickBooks").click()
        expect(page).to_have_url(re.compile(re.escape(f"{site.qbo.url}/connect/oauth2?")))
        expect(page.get_by_text("Sandbox Company_US_1")).to_be_visible()
        page.get_by_role("button", name="Connect").click()
        expect(page).to_have_url(f"{site.url}/stores/shop")
        expect(page.locator("li.conn.connected")).to_contain_text("qbo")
        saved = site.connection()
        assert saved is not None and saved["settings"]["realm_id"] == site.qbo.realm
        refresh = saved["secrets"]["refresh_token"]

        page.get_by_role("button", name="Disconnect").click()
        expect(page.get_by_role("link", name="Connect to QuickBooks")).to_be_visible()
        gone = site.connection()
        assert gone is not None and gone["secrets"] is None

        # cancelling at the consent page: an error page, nothing saved
        page.get_by_role("link", name="Connect to QuickBooks").click()
        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("alert")).to_contain_text("cancelled the consent")
        browser.close()
    assert site.connection() == gone
    refused = httpx.post(
        site.qbo.token_url,
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert refused.json()["error"] == "invalid_grant"


def test_the_command_waits_for_the_consent_its_link_starts(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def open_url(url: str) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr("webbrowser.open", open_url)
    app = build_app(lambda: site.hub)
    result: dict[str, Any] = {}
    args = ["connect", "qbo", "--store", "shop", "--browser", "--base-url", site.url]
    command = threading.Thread(
        target=lambda: result.update(done=CliRunner().invoke(app, [*args, "--wait", "60"]))
    )
    command.start()
    try:
        for _ in range(200):  # the link is opened as soon as it exists
            if opened:
                break
            command.join(0.05)
        assert opened and opened[0].startswith(f"{site.url}/oauth/qbo/start?store=shop&link=")
        with httpx.Client(timeout=30) as browser:  # a browser without a dashboard session
            started = browser.get(opened[0])
            assert started.status_code == 303
            back = site.answer(started.headers["location"], "connect")
            finished = browser.get(back)
            assert finished.status_code == 200 and "is connected" in finished.text
            reused = browser.get(opened[0])  # the link works once
            assert reused.status_code == 400
    finally:
        command.join(60)
    done = result["done"]
    assert done.exit_code == 0, done.output
    assert "connected to QuickBooks company" in done.output
    saved = site.connection()
    assert saved is not None and saved["health"] == "connected"
