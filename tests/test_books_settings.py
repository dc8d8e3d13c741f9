"""The store's books settings from the CLI, the API and the dashboard: good values saved
(the status write-back lands on the web connection, where the web store reads it), bad
ones refused whole with the reason, nothing half-applied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.cli import build_app
from stockbridge.domain.model import CancelAs, CustomerMode
from stockbridge.services.errors import InvalidSetting
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service

PASSWORD = "correct horse battery"


@pytest.fixture
def harness(sqlite_harness: Harness) -> Harness:
    sqlite_harness.add_store("shop", web=FakeWebStore(), back_office=FakeBackOffice())
    sqlite_harness.add_store("other", web=FakeWebStore(), back_office=FakeBackOffice())
    return sqlite_harness


@pytest.fixture
def running(harness: Harness) -> Iterator[Running]:
    accounts.add_user(harness.hub, "ann", PASSWORD, stores=["shop"])
    r = start_service(harness.hub)
    yield r
    r.server.stop()
    r.service.stop()


def test_service_checks_every_value_before_saving(harness: Harness) -> None:
    hub = harness.hub
    before = services.describe_store(hub, "shop")
    for bad, reason in [
        ({"customer_mode": "per_email"}, "single or per_buyer"),
        ({"cancel_as": "delete"}, "void or refund_receipt"),
        ({"deposit_account": "35; drop"}, "back-office id"),
        ({"payment_methods": {"Card": "3", "card": "4"}}, "given twice"),
        ({"payment_methods": {"": "3"}}, "1-100 characters"),
        ({"payment_methods": {f"m{i}": "1" for i in range(51)}}, "at most 50"),
        ({"status_after_post": 15}, "1-14"),
        ({"status_after_post": 0}, "1-14"),
        ({"status_after_post": True}, "1-14"),
    ]:
        with pytest.raises(InvalidSetting, match=reason):
            services.update_books(hub, "shop", **{"cancel_as": "void", **bad})  # type: ignore[arg-type,dict-item]
    assert services.describe_store(hub, "shop") == before
    with pytest.raises(services.StoreNotFound):
        services.update_books(hub, "nope", customer_mode="single")

    saved = services.update_books(
        hub,
        "shop",
        customer_mode="per_buyer",
        cancel_as="refund_receipt",
        deposit_account="35",
        payment_methods={"Credit  Card": "3"},
        status_after_post=9,
    )

    assert (saved.customer_mode, saved.cancel_as) == (
        CustomerMode.PER_BUYER,
        CancelAs.REFUND_RECEIPT,
    )
    assert saved.payment_methods == {"Credit Card": "3"} and saved.deposit_account == "35"
    assert saved.status_after_post == 9
    with hub.uow() as uow:
        web = uow.stores.connection(1, "web")
        assert web is not None and web.settings["status_after_post"] == 9
        settings = uow.stores.settings(1)
        assert settings is not None and settings.books.payment_method_for("card") is None
        assert settings.books.payment_method_for("credit card") == "3"
    off = services.update_books(hub, "shop", status_after_post_off=True, deposit_account="")
    assert off.status_after_post is None and off.deposit_account is None
    assert services.describe_store(hub, "other").status_after_post is None


def test_cli_store_books(harness: Harness) -> None:
    app = build_app(lambda: harness.hub)
    cli = CliRunner()

    done = cli.invoke(
        app,
        ["store", "books", "shop", "--customers", "per_buyer", "--payment-methods",
         "Credit Card=3, PayPal=5", "--status-after-post", "9", "--deposit-account", "35"],
    )  # fmt: skip

    assert done.exit_code == 0, done.output
    assert "payment_methods: Credit Card=3, PayPal=5" in done.output
    assert "status_after_post: 9" in done.output
    for args, reason in [
        (["--customers", "everyone"], "single or per_buyer"),
        (["--payment-methods", "Credit Card"], "WEB METHOD=BACK-OFFICE ID"),
        (["--status-after-post", "soon"], "status id"),
        (["--status-after-post", "99"], "1-14"),
    ]:
        bad = cli.invoke(app, ["store", "books", "shop", *args])
        assert bad.exit_code != 0 and reason in bad.output, (args, bad.output)
    off = cli.invoke(app, ["store", "books", "shop", "--status-after-post", "off"])
    assert "status_after_post: off" in off.output
    assert services.describe_store(harness.hub, "shop").payment_methods == {
        "Credit Card": "3",
        "PayPal": "5",
    }


def test_api_patch_books(running: Running) -> None:
    shop = running.token("shop")
    with running.client(shop) as api:
        answer = api.patch(
            "/api/v1/stores/shop/books",
            json={"customer_mode": "per_buyer", "payment_methods": {"PayPal": "5"},
                  "status_after_post": 9},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["payment_methods"] == {"PayPal": "5"}
        assert answer.json()["status_after_post"] == 9
        for bad in [
            {"customer_mode": "x"},
            {"status_after_post": 15},
            {"status_after_post": "9"},
            {"payment_methods": ["PayPal"]},
            {"deposit_account": "a b"},
            {"payment_methods": {"PayPal": "5 6"}},
            {"surprise": 1},
        ]:
            refused = api.patch("/api/v1/stores/shop/books", json=bad)
            assert refused.status_code == 422, (bad, refused.text)
        assert api.patch("/api/v1/stores/other/books", json={}).status_code == 404
        off = api.patch("/api/v1/stores/shop/books", json={"status_after_post": 0}).json()
        assert off["status_after_post"] is None
        assert off["customer_mode"] == "per_buyer" and off["payment_methods"] == {"PayPal": "5"}


def test_dashboard_books_form(running: Running) -> None:
    hub = running.hub
    with running.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        good = {"csrf_token": csrf, "customer_mode": "single", "cancel_as": "void"}
        before = services.describe_store(hub, "shop")
        for change, reason in [
            ({"customer_mode": "x"}, "single or per_buyer"),
            ({"status_after_post": "nine"}, "status id"),
            ({"status_after_post": "15"}, "1-14"),
            ({"payment_methods": "PayPal"}, "WEB METHOD=BACK-OFFICE ID"),
            ({"deposit_account": "<script>"}, "back-office id"),
        ]:
            answer = browser.post("/stores/shop/books", data={**good, **change})
            assert answer.status_code == 422, change
            assert reason in answer.text and "nothing was saved" in answer.text, change
        assert services.describe_store(hub, "shop") == before
        saved = browser.post(
            "/stores/shop/books",
            data={**good, "customer_mode": "per_buyer", "payment_methods": "PayPal=5",
                  "status_after_post": "9", "deposit_account": "35"},
        )  # fmt: skip
        assert saved.status_code == 303
        page = browser.get("/stores/shop/settings").text
        assert 'value="PayPal=5"' in page and 'value="35"' in page
    after = services.describe_store(hub, "shop")
    assert (after.customer_mode, after.status_after_post) == (CustomerMode.PER_BUYER, 9)
