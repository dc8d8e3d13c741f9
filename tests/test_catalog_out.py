"""The whole catalog to the web store (issue 14, steps 3-4), against the BigCommerce
sandbox over real HTTP: new back-office items created (exactly once, even when the hub
dies between the creation and its record), prices and names sent only when changed and
in the partner's batch sizes, inactive items zeroed or hidden and restored, each as the
store's settings say."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from stockbridge import services
from stockbridge.connectors.bigcommerce.client import BigCommerceStore
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step, Trigger
from stockbridge.domain.web_catalog import NewProduct
from stockbridge.services.errors import InvalidSetting
from stockbridge.sync.runner import SyncRunner
from tests.bc_helpers import NO_WAIT, SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice
from tests.kill_points import Killed, dead_holder


def wire(harness: Harness, bc: SandboxStore, bo: FakeBackOffice, web: Any = None) -> int:
    store_id = harness.add_store(back_office=bo)
    with harness.hub.uow() as uow:
        web_id = uow.stores.connect(
            store_id, role="web", kind="bigcommerce", settings={}, credentials=None
        ).id
        uow.commit()
    partners = harness.partners[store_id]
    harness.partners[store_id] = type(partners)(
        web or bc.connector(), web_id, partners.back_office, partners.back_office_connection_id
    )
    return store_id


def catalog(bc: SandboxStore) -> dict[str, dict[str, Any]]:
    return dict(bc.call("GET", "/catalog"))


def calls(bc: SandboxStore) -> dict[str, int]:
    return dict(bc.counters()["calls"])


def sync(harness: Harness) -> services.RunReport:
    return services.sync(harness.hub, None, SYNC_ALL)


SETTINGS = [
    pytest.param({}, id="defaults"),
    pytest.param(
        {
            "catalog_new_visible": True,
            "catalog_push_names": True,
            "catalog_inactive": "hide",
        },
        id="visible-names-hide",
    ),
    pytest.param(
        {"catalog_create_new": False, "catalog_price_source": "web"}, id="no-create-web-prices"
    ),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_web_store_ends_as_the_settings_say(
    sqlite_harness: Harness, bc_store: SandboxStore, settings: dict[str, Any]
) -> None:
    create = settings.get("catalog_create_new", True)
    visible = settings.get("catalog_new_visible", False)
    names = settings.get("catalog_push_names", False)
    hide = settings.get("catalog_inactive") == "hide"
    bo_prices = settings.get("catalog_price_source", "back_office") == "back_office"
    bc_store.seed(
        [
            {"name": "Old mug", "sku": "MUG", "tracking": "product", "price": "10.00"},
            {"name": "Old cap", "sku": "CAP", "tracking": "product", "price": "8.00"},
        ]
    )
    bo = FakeBackOffice()
    bo.set_item("MUG", 5, name="Mug", price="12.50")
    bo.set_item("CAP", 7, name="Cap", price="8.00")
    bo.set_item("NEW-1", 3, name="Kettle", price="9.99")
    bo.set_item("NEW-2", 4, name="Teapot", price="20")
    wire(sqlite_harness, bc_store, bo)
    services.update_store(sqlite_harness.hub, "shop", **settings)

    first = sync(sqlite_harness)
    assert first.status is RunStatus.SUCCEEDED, first  # never partial for a new SKU
    web = catalog(bc_store)
    if create:
        assert {s: (web[s]["name"], Decimal(web[s]["price"])) for s in ("NEW-1", "NEW-2")} == {
            "NEW-1": ("Kettle", Decimal("9.99")),
            "NEW-2": ("Teapot", Decimal("20")),
        }
        assert web["NEW-1"]["is_visible"] is visible
        assert web["NEW-1"]["inventory_tracking"] == "product"
        assert bc_store.stock()["NEW-1"] == 3
        message = " ".join(str(s.get("message")) for s in first.steps.values())
        assert "created 2 product(s) on the web store: NEW-" in message
        assert "NEW-1" in message and "NEW-2" in message
    else:
        assert "NEW-1" not in web and "NEW-2" not in web
    assert Decimal(web["MUG"]["price"]) == (Decimal("12.50") if bo_prices else Decimal("10"))
    assert web["MUG"]["name"] == ("Mug" if names else "Old mug")

    # the back office changes a price and deactivates the cap
    bo.set_item("NEW-1", 3, name="Kettle", price="14.99")
    bo.set_item("CAP", 7, name="Cap", price="8.00", active=False)
    before = calls(bc_store)
    second = sync(sqlite_harness)
    assert second.status is RunStatus.SUCCEEDED, second
    web = catalog(bc_store)
    if create:
        expected = Decimal("14.99") if bo_prices else Decimal("9.99")
        assert Decimal(web["NEW-1"]["price"]) == expected
    assert bc_store.stock()["CAP"] == (7 if hide else 0)
    assert web["CAP"]["is_visible"] is (not hide)
    after = calls(bc_store)
    assert after.get("POST /v3/catalog/products", 0) == before.get(
        "POST /v3/catalog/products", 0
    )  # nothing created again

    # re-activated: restored
    bo.set_item("CAP", 7, name="Cap", price="8.00", active=True)
    third = sync(sqlite_harness)
    assert third.status is RunStatus.SUCCEEDED, third
    web = catalog(bc_store)
    assert bc_store.stock()["CAP"] == 7
    assert web["CAP"]["is_visible"] is True

    # a run with nothing changed sends nothing to the catalog
    before = calls(bc_store)
    sync(sqlite_harness)
    after = calls(bc_store)
    for endpoint in ("PUT /v3/catalog/variants", "PUT /v3/catalog/products"):
        assert after.get(endpoint, 0) == before.get(endpoint, 0), endpoint


def test_a_product_created_hidden_for_review_stays_hidden_when_reactivated(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    bo = FakeBackOffice()
    bo.set_item("NEW-1", 3, name="Kettle")
    wire(sqlite_harness, bc_store, bo)
    services.update_store(sqlite_harness.hub, "shop", catalog_inactive="hide")
    sync(sqlite_harness)
    assert catalog(bc_store)["NEW-1"]["is_visible"] is False
    bo.set_item("NEW-1", 3, name="Kettle", active=False)
    sync(sqlite_harness)
    bo.set_item("NEW-1", 3, name="Kettle", active=True)
    sync(sqlite_harness)
    assert catalog(bc_store)["NEW-1"]["is_visible"] is False  # the merchant still reviews it


def test_prices_go_in_batches_of_the_partners_limits(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    skus = [f"P{i:03}" for i in range(120)]
    bc_store.seed([{"name": s, "sku": s, "tracking": "product", "price": "1.00"} for s in skus])
    bo = FakeBackOffice()
    for sku in skus:
        bo.set_item(sku, 1, name=sku, price="2.00")
    wire(sqlite_harness, bc_store, bo)
    sync(sqlite_harness)
    assert calls(bc_store)["PUT /v3/catalog/variants"] == 3  # 120 prices, 50 a call
    assert {Decimal(p["price"]) for p in catalog(bc_store).values()} == {Decimal("2.00")}

    services.update_store(sqlite_harness.hub, "shop", catalog_push_names=True)
    for sku in skus[:25]:
        bo.set_item(sku, 1, name=f"Better {sku}", price="2.00")
    before = calls(bc_store)
    sync(sqlite_harness)
    after = calls(bc_store)
    # 25 names: 3 product calls (10 a call); no price changed, no variant call
    assert after["PUT /v3/catalog/products"] - before.get("PUT /v3/catalog/products", 0) == 3
    assert after["PUT /v3/catalog/variants"] == before["PUT /v3/catalog/variants"]
    assert catalog(bc_store)["P000"]["name"] == "Better P000"


def test_a_product_the_web_refuses_is_an_item_error_and_the_rest_goes_on(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    bc_store.seed([{"name": "Kettle", "sku": "OLD-KETTLE", "tracking": "product"}])
    bo = FakeBackOffice()
    bo.set_item("BAD-PRICE", 1, name="Bad", price="-1")
    bo.set_item("SAME-NAME", 1, name="Kettle")
    bo.set_item("GOOD", 2, name="Good")
    wire(sqlite_harness, bc_store, bo)
    report = sync(sqlite_harness)
    assert report.status is RunStatus.PARTIAL
    errors = {e.key: e for e in report.errors}
    assert "price" in errors["BAD-PRICE"].message and errors["BAD-PRICE"].code == "422"
    assert "name" in errors["SAME-NAME"].message and errors["SAME-NAME"].code == "409"
    assert "GOOD" in catalog(bc_store) and bc_store.stock()["GOOD"] == 2
    # stock of the refused ones is not pushed by SKU into a "not found" on every run
    assert set(errors) == {"BAD-PRICE", "SAME-NAME"}


class DiesAfterCreating(BigCommerceStore):
    """The store applies the creation; the hub dies before it records the answer."""

    die_at = 2
    created = 0

    def create_product(self, product: NewProduct) -> Any:
        answer = super().create_product(product)
        type(self).created += 1
        if type(self).created == self.die_at:
            raise Killed("between the creation and its record")
        return answer


def test_nothing_is_created_twice_after_a_kill_between_create_and_record(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    bo = FakeBackOffice()
    skus = [f"NEW-{i}" for i in range(5)]
    for sku in skus:
        bo.set_item(sku, 2, name=f"Item {sku}")
    dying = bc_store.connector()
    dying.__class__ = DiesAfterCreating
    store_id = wire(sqlite_harness, bc_store, bo, web=dying)
    partners = sqlite_harness.partners
    runner = SyncRunner(
        uow=sqlite_harness.hub.uow,
        partners_for=lambda s: partners[s],
        retry=NO_WAIT,
        lease_seconds=30,
        holder=dead_holder(),
        poll_seconds=0.001,
    )
    run_id, _ = runner.request(store_id, (Step.INVENTORY_IN, Step.INVENTORY_OUT), Trigger.MANUAL)
    with pytest.raises(Killed):
        runner.execute(run_id)
    assert calls(bc_store)["POST /v3/catalog/products"] == 2  # the second answer was lost

    partners[store_id] = type(partners[store_id])(
        bc_store.connector(),
        partners[store_id].web_connection_id,
        bo,
        partners[store_id].back_office_connection_id,
    )
    # inventory-out alone (as a webhook's run): the web catalog is not re-read first, so
    # only the look-up of the marked SKU stands between the lost answer and a second POST
    report = services.sync(sqlite_harness.hub, None, (Step.INVENTORY_OUT,))
    assert report.status is RunStatus.SUCCEEDED, report
    counted = calls(bc_store)
    assert counted["POST /v3/catalog/products"] == 5  # the lost one looked up, not re-made
    assert counted["GET /v3/catalog/products"] >= 1
    web = catalog(bc_store)
    assert sorted(web) == skus
    assert {s: bc_store.stock()[s] for s in skus} == dict.fromkeys(skus, 2)


def test_catalog_settings_refuse_bad_values_and_change_nothing(
    sqlite_harness: Harness,
) -> None:
    sqlite_harness.add_store()
    bads: list[dict[str, Any]] = [
        {"catalog_price_source": "erp"},
        {"catalog_inactive": "delete"},
        {"catalog_inactive": "zero", "catalog_price_source": "nope"},
    ]
    for bad in bads:
        with pytest.raises(InvalidSetting):
            services.update_store(sqlite_harness.hub, "shop", **bad)
    shown = services.describe_store(sqlite_harness.hub, "shop")
    assert (shown.catalog_inactive, shown.catalog_price_source_set) == ("zero", None)
    services.update_store(sqlite_harness.hub, "shop", catalog_price_source="web")
    assert services.describe_store(sqlite_harness.hub, "shop").catalog_price_source == "web"
    services.update_store(sqlite_harness.hub, "shop", catalog_price_source="auto")
    shown = services.describe_store(sqlite_harness.hub, "shop")
    assert (shown.catalog_price_source, shown.catalog_price_source_set) == ("back_office", None)


def test_the_preview_lists_the_creations_and_prices_the_next_run_sends(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    """The dry run goes through the catalog part too: what it lists is what the next real
    Sync All creates and prices, and the preview itself sends nothing."""
    from stockbridge.services.preview import preview

    bc_store.seed([{"name": "Old mug", "sku": "MUG", "tracking": "product", "price": "10.00"}])
    bo = FakeBackOffice()
    bo.set_item("MUG", 5, name="Mug", price="10.00")
    wire(sqlite_harness, bc_store, bo)
    assert sync(sqlite_harness).status is RunStatus.SUCCEEDED
    bo.set_item("MUG", 5, name="Mug", price="12.50")
    bo.set_item("NEW-1", 3, name="Kettle", price="9.99")
    before = catalog(bc_store)

    plan = preview(sqlite_harness.hub, "shop")
    try:
        created = [(p.sku, p.name, p.price) for p in plan.products_to_create]
        prices = [(p.sku, p.new) for p in plan.price_changes]
    finally:
        plan.close()
    assert created == [("NEW-1", "Kettle", Decimal("9.99"))]
    assert prices == [("MUG", Decimal("12.50"))]
    assert catalog(bc_store) == before  # nothing sent

    assert sync(sqlite_harness).status is RunStatus.SUCCEEDED
    web = catalog(bc_store)
    assert set(web) - set(before) == {"NEW-1"}
    assert Decimal(web["MUG"]["price"]) == Decimal("12.50")
    after = preview(sqlite_harness.hub, "shop")
    try:
        assert after.products_to_create == [] and after.price_changes == []
    finally:
        after.close()
