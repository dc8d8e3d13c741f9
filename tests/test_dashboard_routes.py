"""The dashboard's routes over HTTP without a browser: who may see pages, CSRF on every
post, the login throttle, and bad input refused with nothing saved."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.db.models import SyncRun
from stockbridge.domain.model import Step
from stockbridge.web.webhook_secrets import reject_webhook
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

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.running.server.url, timeout=30)

    def runs(self) -> int:
        with self.running.hub.uow() as uow:
            return int(uow.session.scalar(select(func.count(SyncRun.id))) or 0)


@pytest.fixture
def shop(sqlite_harness: Harness) -> Iterator[Shop]:
    web, bo = FakeWebStore(), FakeBackOffice()
    for sku in ("TEE-1", "TEE-2", "LANTERN"):
        web.add_variant(sku, 0, name=f"Item {sku}")
    bo.set_item("TEE-1", 5)
    bo.set_item("TEE-2", 7)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    hub = sqlite_harness.hub
    services.update_store(hub, "shop", timezone="America/Chicago")
    with hub.uow() as uow:
        uow.catalog.set_hub_managed(1, "LANTERN", 4)
        uow.commit()
    accounts.add_user(hub, "ann", PASSWORD, stores=["shop"])
    running = start_service(hub)
    yield Shop(running, web, bo)
    running.server.stop()
    running.service.stop()


def test_a_logged_out_visitor_is_sent_to_the_login_page(shop: Shop) -> None:
    with shop.client() as browser:
        for path in ("/", "/stores/shop", "/stores/shop/history", "/stores/shop/settings"):
            answer = browser.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login"), path
        assert browser.get("/stores/shop/inventory?q=x").headers["location"] == (
            "/login?next=/stores/shop/inventory%3Fq%3Dx"
        )
        polled = browser.get("/stores/shop/progress", headers={"HX-Request": "true"})
        assert polled.status_code == 401 and polled.headers["HX-Redirect"].startswith("/login")
        posted = browser.post("/stores/shop/sync", data={"steps": "all", "csrf_token": "x"})
        assert posted.status_code == 303 and posted.headers["location"] == "/login"
    with shop.client() as forger:
        forger.cookies.set("sb_session", "made-up")
        assert forger.get("/stores/shop").status_code == 303
    assert shop.runs() == 0


def test_logging_in_sets_a_safe_cookie_and_logging_out_ends_the_session(shop: Shop) -> None:
    with shop.client() as browser:
        page = browser.get("/login?next=/stores/shop/history")
        token = csrf_of(page.text)
        answer = browser.post(
            "/login",
            data={
                "csrf_token": token,
                "username": "ann",
                "password": PASSWORD,
                "next": "/stores/shop/history",
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/stores/shop/history"
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("sb_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert browser.get("/stores/shop/history").status_code == 200
        csrf = csrf_of(browser.get("/stores/shop").text)
        assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
        assert browser.get("/stores/shop").status_code == 303  # the session is gone


def test_login_never_redirects_off_site_and_refuses_a_forged_login_form(shop: Shop) -> None:
    for target in (
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/ /evil.example",
    ):
        with shop.client() as browser:
            token = csrf_of(browser.get("/login").text)
            answer = browser.post(
                "/login",
                data={"csrf_token": token, "username": "ann", "password": PASSWORD, "next": target},
            )
            assert answer.headers["location"] == "/", target
    with shop.client() as attacker:  # no login-form cookie: a cross-site form post
        answer = attacker.post(
            "/login", data={"csrf_token": "guess", "username": "ann", "password": PASSWORD}
        )
        assert answer.status_code == 403
        assert "sb_session" not in answer.headers.get("set-cookie", "")


def test_wrong_passwords_are_throttled_per_user_and_address(shop: Shop) -> None:
    with shop.client() as browser:
        token = csrf_of(browser.get("/login").text)

        def attempt(user: str, password: str) -> httpx.Response:
            return browser.post(
                "/login", data={"csrf_token": token, "username": user, "password": password}
            )

        for _ in range(accounts.MAX_FAILURES):
            wrong = attempt("ann", "not the password")
            assert wrong.status_code == 401
            assert "unknown user or wrong password" in wrong.text
        assert attempt("nobody", "whatever-pw").status_code == 401  # same answer, unknown user
        throttled = attempt("ann", PASSWORD)  # even the right password waits now
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) > 0
        assert "too many failed logins" in throttled.text
    # The count is kept in the database, per (user, address): another address still works.
    session_id, _csrf = accounts.log_in(shop.running.hub, "ann", PASSWORD, "10.1.2.3")
    assert accounts.session_info(shop.running.hub, session_id) is not None


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(shop: Shop) -> None:
    hub = shop.running.hub
    with shop.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        before = services.describe_store(hub, "shop")
        posts = {
            "/stores/shop/sync": {"steps": "all"},
            "/stores/shop/settings": {
                "inventory_source": "web",
                "timezone": "UTC",
                "stale_after_hours": "3",
            },
            "/stores/shop/schedule": {"enabled": "on", "daily_at": "05:00"},
            "/stores/shop/catalog": {"price_source": "web", "inactive": "hide"},
            "/stores/shop/inventory/hub-quantity": {"sku": "LANTERN", "quantity": "9"},
            "/stores/shop/runs/1/retry": {},
            "/logout": {},
        }
        for path, form in posts.items():
            for token in (None, "wrong-token"):
                data = form if token is None else {**form, "csrf_token": token}
                answer = browser.post(path, data=data)
                assert answer.status_code == 403, (path, token)
                assert "security token" in answer.text
        assert services.describe_store(hub, "shop") == before
        assert shop.runs() == 0
        assert services.show_schedule(hub, "shop").schedules[0].daily_at == "01:00"
        assert services.search_inventory(hub, "shop", "LANTERN")[0].stock[0].hub == 4
        # The same post with the token (form field or htmx header) goes through.
        assert browser.post("/stores/shop/sync", data={"steps": "all", "csrf_token": csrf})
        htmx = browser.post(
            "/stores/shop/sync",
            data={"steps": "inventory-in"},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
        assert htmx.status_code == 200 and 'id="progress"' in htmx.text
    assert shop.runs() >= 1


def test_catalog_settings_form_saves_and_refuses_bad_values_whole(shop: Shop) -> None:
    hub = shop.running.hub
    with shop.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        page = browser.get("/stores/shop/settings")
        assert "Catalog to the web store" in page.text and 'name="create_new" checked' in (
            page.text.replace('id="create_new" ', "")
        )
        before = services.describe_store(hub, "shop")
        good = {"csrf_token": csrf, "price_source": "auto", "inactive": "zero"}
        for change in (
            {"price_source": "spreadsheet"},
            {"inactive": "delete"},
            {"price_source": ""},
            {"inactive": "x" * 5000},
        ):
            answer = browser.post("/stores/shop/catalog", data={**good, **change})
            assert answer.status_code == 422, change
            assert "nothing was saved" in answer.text, change
        assert services.describe_store(hub, "shop") == before
        saved = browser.post(
            "/stores/shop/catalog",
            data={**good, "new_visible": "on", "price_source": "web", "inactive": "hide"},
        )
        assert saved.status_code == 303
        after = services.describe_store(hub, "shop")
        assert (after.catalog_create_new, after.catalog_new_visible) == (False, True)
        assert (after.catalog_price_source, after.catalog_inactive) == ("web", "hide")
        assert after.catalog_push_names is False


def test_bad_settings_are_refused_whole(shop: Shop) -> None:
    hub = shop.running.hub
    with shop.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        before = services.describe_store(hub, "shop")
        good = {"csrf_token": csrf, "inventory_source": "back_office", "timezone": "UTC"}
        cases = [
            ({"inventory_source": "spreadsheet"}, "inventory source"),
            ({"timezone": "Mars/Olympus"}, "unknown time zone"),
            ({"stale_after_hours": "lots"}, "whole number"),
            ({"stale_after_hours": "0"}, "1-"),
            ({"failing_item_runs": "0"}, "takes 1-100 runs"),
            ({"pending_order_hours": "soon"}, "whole number"),
            ({"alert_email": "not-an-address"}, "email"),
            ({"alert_webhook": "ftp://x"}, "http"),
            ({"alert_webhook": "http://169.254.169.254/latest"}, "is a link-local address"),
        ]
        for change, reason in cases:
            # sync_all_button missing = off: it must not be saved alongside a bad value
            answer = browser.post("/stores/shop/settings", data={**good, **change})
            assert answer.status_code == 422, change
            assert reason in answer.text and "nothing was saved" in answer.text, change
        assert services.describe_store(hub, "shop") == before
        saved = browser.post(
            "/stores/shop/settings",
            data={**good, "erp_name": "Acme ERP", "alert_email": "ops@example.com"},
        )
        assert saved.status_code == 303
        after = services.describe_store(hub, "shop")
        assert after.erp_name == "Acme ERP" and after.alert_email == "ops@example.com"
        assert after.sync_all_button is False and after.timezone == "UTC"
        # Sync All is off now: pressing it anyway (a stale page) is refused.
        refused = browser.post("/stores/shop/sync", data={"steps": "all", "csrf_token": csrf})
        assert refused.status_code == 409
        unknown = browser.post("/stores/shop/sync", data={"steps": "refund", "csrf_token": csrf})
        assert unknown.status_code == 422
    assert shop.runs() == 0


def test_bad_schedules_and_quantities_are_refused(shop: Shop) -> None:
    hub = shop.running.hub
    with hub.uow() as uow:
        uow.catalog.set_hub_managed(1, "TEE-1", None)  # known, and not managed by the hub
        uow.commit()
    with shop.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        for form in (
            {"enabled": "on", "daily_at": "25:99"},
            {"enabled": "on", "every_minutes": "often"},
            {"enabled": "on", "every_minutes": "0"},
            {"enabled": "on", "daily_at": "02:30", "business_days": "on", "holidays": "12/25"},
        ):
            answer = browser.post("/stores/shop/schedule", data={**form, "csrf_token": csrf})
            assert answer.status_code == 422, form
        assert "&#39;12/25&#39; is not a date" in answer.text
        assert services.show_schedule(hub, "shop").schedules[0].daily_at == "01:00"
        saved = browser.post(
            "/stores/shop/schedule",
            data={"enabled": "on", "daily_at": "02:30", "business_days": "on", "csrf_token": csrf},
        )
        assert saved.status_code == 303
        assert services.show_schedule(hub, "shop").schedules[0].business_days is True
        for form, status, reason in (
            ({"sku": "LANTERN", "quantity": "-1"}, 422, "quantity must be"),
            ({"sku": "LANTERN", "quantity": "ten"}, 422, "whole number"),
            ({"sku": "LANTERN", "quantity": str(10**12)}, 422, "quantity must be"),
            ({"sku": "NOPE", "quantity": "3"}, 422, "no SKU"),
            ({"sku": "TEE-1", "quantity": "3"}, 409, "the back office owns its stock"),
        ):
            answer = browser.post(
                "/stores/shop/inventory/hub-quantity", data={**form, "csrf_token": csrf}
            )
            assert answer.status_code == status and reason in answer.text, form
        assert services.search_inventory(hub, "shop", "LANTERN")[0].stock[0].hub == 4
        assert shop.runs() == 0
        json_body = browser.post(
            "/stores/shop/sync", json={"steps": "all"}, headers={"X-CSRF-Token": csrf}
        )
        assert json_body.status_code == 415
        huge = browser.post(
            "/stores/shop/settings", data={"csrf_token": csrf, "erp_name": "x" * 70_000}
        )
        assert huge.status_code == 413
        assert browser.get("/stores/nowhere").status_code == 404
        assert browser.get("/stores/shop/runs/999").status_code == 404
        assert browser.get("/stores/shop/history?trigger=telepathy").status_code == 422
        assert browser.get("/stores/shop/inventory?q=" + "x" * 300).status_code == 422
        assert (
            browser.post("/stores/shop/runs/999/retry", data={"csrf_token": csrf}).status_code
            == 404
        )
    assert shop.runs() == 0


def test_retry_failed_items_posts_the_order_once_the_back_office_has_the_item(
    shop: Shop,
) -> None:
    hub = shop.running.hub
    order = shop.web.place_order([("TEE-1", 1), ("GIFTWRAP", 1)])
    first = services.sync(hub, "shop")
    assert first.status.value == "partial"
    with shop.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        page = browser.get(f"/stores/shop/runs/{first.run_id}")
        assert "no item with SKU GIFTWRAP" in page.text and "Retry the failed items" in page.text
        shop.bo.set_item("GIFTWRAP", 10)
        answer = browser.post(f"/stores/shop/runs/{first.run_id}/retry", data={"csrf_token": csrf})
        assert answer.status_code == 303
        retry_id = int(answer.headers["location"].rsplit("/", 1)[1])
        detail = shop.running.wait_run(retry_id)
        assert detail.steps == (Step.ORDERS_OUT,) and detail.status == "succeeded"
        assert len(shop.bo.documents_for(order.web_id)) == 1
        again = browser.post(f"/stores/shop/runs/{retry_id}/retry", data={"csrf_token": csrf})
        assert again.status_code == 409  # nothing failed in the retry: nothing to retry


def test_history_filters_and_times_in_the_store_time_zone(shop: Shop) -> None:
    hub = shop.running.hub
    report = services.sync(hub, "shop")
    with shop.client() as browser:
        log_in(browser, "ann", PASSWORD)
        manual = browser.get("/stores/shop/history?trigger=manual").text
        assert f'/runs/{report.run_id}"' in manual
        assert (
            f'/runs/{report.run_id}"'
            not in browser.get("/stores/shop/history?trigger=schedule").text
        )
        detail = services.run_detail(hub, report.run_id)
        assert detail is not None and detail.started_at is not None
        started = detail.started_at.astimezone(UTC)
        local = started.astimezone(ZoneInfo("America/Chicago"))
        assert f"{local:%Y-%m-%d %H:%M} {local.tzname()}" in manual
        inventory = browser.get("/stores/shop/inventory?q=tee").text
        assert "TEE-1" in inventory and "TEE-2" in inventory and "LANTERN" not in inventory


def test_rejected_input_is_listed_with_its_reason_and_never_run_as_html(shop: Shop) -> None:
    hub = shop.running.hub
    reject_webhook(hub, 1, "not JSON", b"<script>alert('x')</script>", kind="bigcommerce")
    with shop.client() as browser:
        log_in(browser, "ann", PASSWORD)
        page = browser.get("/stores/shop/rejected")
        assert page.status_code == 200
        assert "webhook:bigcommerce" in page.text and "not JSON" in page.text
        assert "&lt;script&gt;alert(" in page.text and "<script>alert" not in page.text
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_overview_shows_each_connections_health_and_last_error(shop: Shop) -> None:
    hub = shop.running.hub
    with hub.uow() as uow:
        web = uow.stores.connection(1, "web")
        assert web is not None
        uow.stores.set_health(web.id, "needs_reconnect", "401 Unauthorized: token revoked")
        uow.stores.connect(
            1, role="supplier", kind="feed", settings={}, credentials=None, name="acme", owns="AC-*"
        )
        uow.commit()
    with shop.client() as browser:
        log_in(browser, "ann", PASSWORD)
        page = browser.get("/stores/shop").text
        assert "needs reconnection" in page and "token revoked" in page
        assert "<strong>Supplier acme</strong> (feed; owns AC-*)" in page
        assert page.count('class="ok">connected') == 2  # the back office and the supplier
        # A new store hides Sync All until the merchant turns it on in Settings.
        assert 'id="sync-all"' not in page and "Sync All is hidden" in page
        services.update_store(hub, "shop", sync_all_button=True)
        page = browser.get("/stores/shop").text
        assert 'id="sync-all"' in page and "Last manual sync: <span" in page


def _rows(hub: Hub) -> dict[str, object]:
    """Everything a dashboard post could change in a store, to compare before and after."""
    with hub.uow() as uow:
        return {
            "runs": [
                (r.id, r.store_id, r.status, r.steps)
                for r in uow.session.scalars(select(SyncRun).order_by(SyncRun.id))
            ],
        }


def test_a_user_sees_and_changes_only_the_stores_granted_to_them(
    shop: Shop, sqlite_harness: Harness
) -> None:
    """ann is granted "shop" only: every page and post of "rival" answers exactly what a
    store that does not exist would (no name leaks), and nothing of rival changes."""
    hub = shop.running.hub
    rival_id = sqlite_harness.add_store("rival", web=FakeWebStore(), back_office=FakeBackOffice())
    sqlite_harness.add_store("annex")
    with hub.uow() as uow:
        uow.catalog.set_hub_managed(rival_id, "RIVAL-SKU", 11)
        uow.commit()
    reject_webhook(hub, rival_id, "rival's rejected reason", b"rival's payload", kind="bigcommerce")
    rival_run = services.request_sync(
        hub, services.RequestSync("rival", (Step.INVENTORY_IN,))
    ).run_id
    accounts.add_user(hub, "bea", PASSWORD, stores=["shop", "annex"])
    accounts.add_user(hub, "cy", PASSWORD, operator=True)
    before = (
        services.describe_store(hub, "rival"),
        services.show_schedule(hub, "rival"),
        services.search_inventory(hub, "rival", "RIVAL-SKU"),
        _rows(hub),
    )
    pages = ["", "/progress", "/history", f"/runs/{rival_run}", "/settings", "/inventory"]
    pages.append("/rejected")
    posts = {
        "/sync": {"steps": "all"},
        "/settings": {"inventory_source": "web", "timezone": "UTC", "alert_webhook": "https://evil.example/hook"},
        "/schedule": {"enabled": "on", "every_minutes": "5"},
        "/catalog": {"price_source": "web", "inactive": "hide", "create_new": "on"},
        "/inventory/hub-quantity": {"sku": "RIVAL-SKU", "quantity": "0"},
        f"/runs/{rival_run}/retry": {},
    }  # fmt: skip

    def same_as_unknown(answer: httpx.Response, unknown: httpx.Response) -> None:
        assert answer.status_code == unknown.status_code == 404
        assert answer.text.replace("rival", "?") == unknown.text.replace("nowhere", "?")
        assert "rival&#39;s" not in answer.text and "RIVAL-SKU" not in answer.text

    with shop.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        home = browser.get("/")  # one store granted: straight to it
        assert home.status_code == 303 and home.headers["location"] == "/stores/shop"
        for page in pages:
            same_as_unknown(
                browser.get(f"/stores/rival{page}"), browser.get(f"/stores/nowhere{page}")
            )
        for path, form in posts.items():
            data = {**form, "csrf_token": csrf}
            same_as_unknown(
                browser.post(f"/stores/rival{path}", data=data),
                browser.post(f"/stores/nowhere{path}", data=data),
            )
            htmx = browser.post(
                f"/stores/rival{path}",
                data=form,
                headers={"HX-Request": "true", "X-CSRF-Token": csrf},
            )
            assert htmx.status_code == 404 and "no store named" in htmx.text
        # Another store's run through one's own store's path is no way round.
        assert browser.get(f"/stores/shop/runs/{rival_run}").status_code == 404
        own = browser.get("/stores/shop")
        assert own.status_code == 200 and "rival" not in own.text and "annex" not in own.text
    assert (
        services.describe_store(hub, "rival"),
        services.show_schedule(hub, "rival"),
        services.search_inventory(hub, "rival", "RIVAL-SKU"),
        _rows(hub),
    ) == before
    assert [r.status for r in services.run_history(hub, "rival", 10)] == ["queued"]

    with shop.client() as browser:
        log_in(browser, "bea", PASSWORD)
        listed = browser.get("/")
        assert listed.status_code == 200
        assert "/stores/shop" in listed.text and "/stores/annex" in listed.text
        assert "rival" not in listed.text
        assert browser.get("/stores/annex").status_code == 200
        assert browser.get("/stores/rival/rejected").status_code == 404
    with shop.client() as browser:
        log_in(browser, "cy", PASSWORD)  # an operator sees every store
        listed = browser.get("/")
        assert all(f"/stores/{name}" in listed.text for name in ("annex", "rival", "shop"))
        rejected = browser.get("/stores/rival/rejected")
        assert rejected.status_code == 200 and "rival&#39;s rejected reason" in rejected.text


def test_the_history_is_paged_newest_first_with_its_filters_kept(shop: Shop) -> None:
    hub = shop.running.hub
    ids = [services.sync(hub, "shop", (Step.ORDERS_IN,)).run_id for _ in range(27)]
    newest_first = sorted(ids, reverse=True)
    with shop.client() as browser:
        log_in(browser, "ann", PASSWORD)
        first = browser.get("/stores/shop/history?trigger=manual").text
        shown = [int(n) for n in re.findall(r">Run (\d+)</a>", first)]
        assert shown == newest_first[:25]
        older = re.search(r'href="([^"]+)" rel="next" id="older"', first)
        assert older is not None
        link = older.group(1).replace("&amp;", "&")
        assert link == f"/stores/shop/history?before={newest_first[24]}&trigger=manual"
        second = browser.get(link).text
        assert [int(n) for n in re.findall(r">Run (\d+)</a>", second)] == newest_first[25:]
        assert 'id="older"' not in second and 'rel="first"' in second
        for bad in ("x", "-1", "9" * 30):
            assert browser.get(f"/stores/shop/history?before={bad}").status_code == 422
    with shop.running.client(shop.running.token("shop")) as api:
        page = api.get(f"/api/v1/stores/shop/runs?limit=5&before={newest_first[4]}").json()
        assert [r["id"] for r in page] == newest_first[5:10]
