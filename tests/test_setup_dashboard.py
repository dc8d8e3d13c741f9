"""The dashboard's setup pages and tokens page over HTTP, as a browser without JavaScript
would use them, against the BigCommerce sandbox and a feed server on loopback: every
form's bad input (malformed, oversized, wrong types, unknown store, duplicates) is a
clear 4xx with nothing saved, secrets are never shown back nor logged, operator-only
forms refuse other users, and other stores answer 404."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.services.tokens import list_tokens
from tests.bc_helpers import SandboxStore
from tests.dashboard_helpers import csrf_of, log_in
from tests.feed_support import (
    FeedServer,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
)
from tests.service_helpers import Running, start_service

PASSWORD = "a long passphrase"
FEED = b"sku,quantity,name\nTEE-1,5,Tee\nTEE-2,7,Tee two\nMUG,x,Mug\n"


@dataclass
class Site:
    running: Running
    bc: SandboxStore
    feed: FeedServer

    @property
    def hub(self) -> Hub:
        return self.running.hub

    def client(self, user: str = "op") -> tuple[httpx.Client, str]:
        browser = httpx.Client(base_url=self.running.server.url, timeout=30)
        return browser, log_in(browser, user, PASSWORD)


@pytest.fixture
def site(tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer) -> Iterator[Site]:
    hub = make_hub(tmp_path)
    accounts.add_user(hub, "op", PASSWORD, operator=True)
    feed_server.files["stock.csv"] = FEED
    running = start_service(hub)
    yield Site(running, bc_store, feed_server)
    running.server.stop()
    running.service.stop()
    hub.engine.dispose()


def _stores(hub: Hub) -> list[str]:
    return [s.name for s in services.list_stores(hub)]


def test_an_empty_hub_offers_setup_and_a_store_is_added_only_with_good_input(
    site: Site,
) -> None:
    browser, csrf = site.client()
    with closing(browser):
        home = browser.get("/")
        assert "Set up your first store" in home.text and 'href="/setup"' in home.text
        form = {"csrf_token": csrf, "timezone": "America/Chicago", "sync_all_button": "on"}
        made = browser.post("/setup", data={**form, "name": "shop", "inventory_source": "web"})
        assert made.status_code == 303 and made.headers["location"] == "/stores/shop/setup"
        settings = services.describe_store(site.hub, "shop")
        assert settings.timezone == "America/Chicago" and settings.inventory_source == "web"
        assert not settings.sync_all_button  # even a form asking for it: Options only
        for data, status, reason in (
            ({"name": "shop"}, 409, "exists already"),
            ({"name": "two", "timezone": "Mars/Base"}, 422, "unknown time zone"),
            ({"name": ""}, 422, "store names are"),
            ({"name": "x" * 101}, 422, "store names are"),
            ({"name": "a/b"}, 422, "store names are"),
            ({"name": "two", "inventory_source": "telepathy"}, 422, "inventory modes"),
        ):
            answer = browser.post("/setup", data={**form, **data})
            assert answer.status_code == status, (data, answer.text)
            assert reason in answer.text and "nothing was saved" in answer.text
        assert browser.post("/setup", data={"name": "two"}).status_code == 403  # no CSRF
        assert browser.post("/setup", content=b"x" * 70_000, headers={
            "Content-Type": "application/x-www-form-urlencoded"}).status_code == 413  # fmt: skip
        assert browser.post("/setup", json={"name": "two"}).status_code == 415
    assert _stores(site.hub) == ["shop"]

    accounts.add_user(site.hub, "ann", PASSWORD, stores=["shop"])
    merchant, csrf = site.client("ann")
    with closing(merchant):
        assert merchant.get("/setup").status_code == 403
        refused = merchant.post("/setup", data={"csrf_token": csrf, "name": "mine"})
        assert refused.status_code == 403
        assert "Add store" not in merchant.get("/stores/shop").text
    assert _stores(site.hub) == ["shop"]


def test_the_web_store_form_checks_the_token_and_never_shows_or_logs_it(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    services.add_store(site.hub, "shop")
    browser, csrf = site.client()
    wrong = "wrong-token-0123456789"
    with closing(browser):
        base = {"csrf_token": csrf, "store_hash": site.bc.hash, "api_url": site.bc.server.url}
        refused = browser.post("/stores/shop/setup/web", data={**base, "access_token": wrong})
        assert refused.status_code == 422
        assert "refused the credentials" in refused.text
        assert wrong not in refused.text
        assert f'value="{site.bc.hash}"' in refused.text  # the other fields are kept
        for data, reason in (
            ({"store_hash": "no/hash", "access_token": "t"}, "letters and digits"),
            ({"store_hash": "h" * 65, "access_token": "t"}, "at most 64"),
            ({"access_token": ""}, "the access token is required"),
            ({"access_token": "t" * 5000}, "at most 4096"),
            ({"access_token": "t", "api_url": "ftp://x"}, "http:// or https://"),
        ):
            answer = browser.post("/stores/shop/setup/web", data={**base, **data})
            assert answer.status_code == 422 and reason in answer.text, (data, answer.text)
        assert services.describe_store(site.hub, "shop").connections == ()
        unknown = browser.post("/stores/none/setup/web", data={**base, "access_token": "t"})
        assert unknown.status_code == 404

        done = browser.post("/stores/shop/setup/web", data={**base, "access_token": site.bc.token})
        assert done.status_code == 303, done.text
        page = browser.get(done.headers["location"])
        assert "Web store connected." in page.text and site.bc.token not in page.text
    [web] = services.describe_store(site.hub, "shop").connections
    assert (web.role, web.kind, web.health) == ("web", "bigcommerce", "connected")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records and wrong not in logged and site.bc.token not in logged

    accounts.add_user(site.hub, "ann", PASSWORD, stores=["shop"])
    merchant, csrf = site.client("ann")
    with closing(merchant):  # a merchant may not send the access token to an address of their own
        answer = merchant.post(
            "/stores/shop/setup/web", data={**base, "csrf_token": csrf, "access_token": "t"}
        )
        assert answer.status_code == 422 and "only an operator" in answer.text
        assert 'name="api_url"' not in merchant.get("/stores/shop/setup").text


def test_a_feed_source_is_previewed_through_the_outbound_policy_and_then_connected(
    site: Site,
) -> None:
    services.add_store(site.hub, "shop")
    site.feed.bearer = "feed-secret-token"
    browser, csrf = site.client()
    with closing(browser):
        form = {
            "csrf_token": csrf,
            "source": site.feed.url("stock.csv"),
            "auth": "bearer",
            "token": "feed-secret-token",
            "location_field": "",
            "price_field": "",
            "action": "preview",
        }
        shown = browser.post("/stores/shop/setup/feed", data=form)
        assert shown.status_code == 200, shown.text
        assert 'data-line="2"' in shown.text and "TEE-1" in shown.text and "Tee two" in shown.text
        assert "feed-secret-token" not in shown.text
        assert services.describe_store(site.hub, "shop").connections == ()  # a look only
        assert site.feed.downloads == 1

        for data, reason in (
            ({"token": "wrong"}, "refused the credentials"),
            ({"source": site.feed.url("missing.csv")}, "could not read the source"),
            ({"source": "http://10.255.255.1/stock.csv"}, "could not read the source"),
            ({"source": "gopher://x/y"}, "https://..., sftp://... or a folder"),
            ({"source": ""}, "the source is required"),
            ({"format": "xml"}, "csv or json"),
            ({"auth": "magic"}, "none, bearer or basic"),
            ({"token": ""}, "the bearer token is required"),
            ({"sku_field": "s" * 201}, "at most 200"),
        ):
            answer = browser.post("/stores/shop/setup/feed", data={**form, **data})
            assert answer.status_code == 422 and reason in answer.text, (data, answer.text)
            assert "feed-secret-token" not in answer.text
        policy = browser.post(
            "/stores/shop/setup/feed", data={**form, "source": "http://10.255.255.1/x.csv"}
        )
        assert "10.255.255.1" in policy.text and "allow" in policy.text  # the rule, named
        assert site.feed.downloads == 1

        connected = browser.post("/stores/shop/setup/feed", data={**form, "action": "connect"})
        assert connected.status_code == 303, connected.text
    [feed] = services.describe_store(site.hub, "shop").connections
    assert (feed.role, feed.kind) == ("back_office", "feed")

    accounts.add_user(site.hub, "ann", PASSWORD, stores=["shop"])
    merchant, csrf = site.client("ann")
    with closing(merchant):  # a merchant may not read the hub's own files
        answer = merchant.post(
            "/stores/shop/setup/feed",
            data={"csrf_token": csrf, "source": "/etc", "action": "preview"},
        )
        assert answer.status_code == 422 and "only an operator" in answer.text


def test_schedule_and_user_forms_refuse_bad_input_and_save_nothing(site: Site) -> None:
    services.add_store(site.hub, "shop")
    services.add_store(site.hub, "other")
    browser, csrf = site.client()
    before = services.show_schedule(site.hub, "shop").schedules
    with closing(browser):
        for data in (
            {"enabled": "on", "every_minutes": "ten"},
            {"enabled": "on", "every_minutes": "0"},
            {"enabled": "on", "daily_at": "25:99"},
            {"enabled": "on"},
        ):
            answer = browser.post("/stores/shop/setup/schedule", data={"csrf_token": csrf, **data})
            assert answer.status_code == 422, (data, answer.text)
        assert services.show_schedule(site.hub, "shop").schedules == before
        saved = browser.post(
            "/stores/shop/setup/schedule",
            data={"csrf_token": csrf, "enabled": "on", "every_minutes": "30"},
        )
        assert saved.status_code == 303
        assert services.show_schedule(site.hub, "shop").schedules[0].every_minutes == 30

        user = {"csrf_token": csrf, "username": "mia", "password": PASSWORD}
        assert browser.post("/stores/shop/setup/user", data=user).status_code == 303
        for data, status in (
            ({}, 409),  # the same name again
            ({"username": "zed", "password": "short"}, 422),
            ({"username": " zed"}, 422),
            ({"username": "z" * 101}, 422),
        ):
            answer = browser.post("/stores/shop/setup/user", data={**user, **data})
            assert answer.status_code == status, (data, answer.text)
            assert PASSWORD not in answer.text
    assert [(u.name, u.stores) for u in accounts.list_users(site.hub)] == [
        ("mia", ("shop",)),
        ("op", ()),
    ]
    merchant, csrf = site.client("mia")
    with closing(merchant):
        refused = merchant.post(
            "/stores/shop/setup/user",
            data={"csrf_token": csrf, "username": "eve", "password": "long enough 1"},
        )
        assert refused.status_code == 403
        assert merchant.get("/stores/other/setup").status_code == 404
        assert merchant.get("/stores/other/tokens").status_code == 404
        hidden = merchant.post("/stores/other/setup/schedule", data={"csrf_token": csrf})
        assert hidden.status_code == 404
    assert len(accounts.list_users(site.hub)) == 2


def test_the_tokens_page_shows_a_new_token_once_and_revokes_at_once(site: Site) -> None:
    services.add_store(site.hub, "shop")
    services.add_store(site.hub, "other")
    elsewhere = services.issue_token(site.hub, "other", operator=False)
    accounts.add_user(site.hub, "ann", PASSWORD, stores=["shop"])
    browser, csrf = site.client("ann")
    with closing(browser):
        made = browser.post(
            "/stores/shop/tokens", data={"csrf_token": csrf, "expires_in_days": "30"}
        )
        assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
        token = made.text.split('id="new-token" class="secret" readonly value="')[1].split('"')[0]
        assert token.startswith("sbt_") and made.text.count(token) == 1
        listing = browser.get("/stores/shop/tokens")
        assert token not in listing.text and "expires" in listing.text.lower()
        [issued] = list_tokens(site.hub, {"shop"})
        assert f'data-token="{issued.id}"' in listing.text
        assert f'data-token="{elsewhere.id}"' not in listing.text
        for days in ("0", "-1", "ten", "99999", "1e3"):
            answer = browser.post(
                "/stores/shop/tokens", data={"csrf_token": csrf, "expires_in_days": days}
            )
            assert answer.status_code == 422, days
        with httpx.Client(base_url=site.running.server.url) as api:
            auth = {"Authorization": f"Bearer {token}"}
            assert api.get("/api/v1/stores/shop/status", headers=auth).status_code == 200
            used = browser.get("/stores/shop/tokens").text
            assert "never" not in used.split(f'data-token="{issued.id}"')[1].split("</tr>")[0]
            other = browser.post(
                f"/stores/shop/tokens/{elsewhere.id}/revoke", data={"csrf_token": csrf}
            )
            assert other.status_code == 404
            gone = browser.post(
                f"/stores/shop/tokens/{issued.id}/revoke", data={"csrf_token": csrf}
            )
            assert gone.status_code == 303
            assert api.get("/api/v1/stores/shop/status", headers=auth).status_code == 401
    states = {t.id: t.state for t in list_tokens(site.hub)}
    assert states == {issued.id: "revoked", elsewhere.id: "live"}
    assert csrf_of(made.text)
