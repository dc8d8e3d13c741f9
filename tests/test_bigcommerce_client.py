"""The BigCommerce connector against its sandbox over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from stockbridge.connectors.bigcommerce.client import BigCommerceStore
from stockbridge.connectors.errors import PartnerAuthError, PartnerError, PartnerResponseError
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.domain.model import StockUpdate, WebOrderStatus
from tests.bc_helpers import NO_WAIT, SandboxStore


def variant_products(count: int, variants: int = 2, qty: int = 5) -> list[dict[str, object]]:
    return [
        {
            "name": f"Shirt {i}",
            "sku": f"P{i}",
            "tracking": "variant",
            "variants": [{"sku": f"P{i}-{v}", "inventory_level": qty} for v in range(variants)],
        }
        for i in range(count)
    ]


def test_check_reports_the_store_and_refuses_bad_credentials(bc_store: SandboxStore) -> None:
    bc_store.seed(variant_products(3))
    assert "3 products" in bc_store.connector().check()
    bad = ConnectorEnv(
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        vault=MemoryVault({"access_token": "wrong"}),
        limiters=LimiterRegistry(),
        retry=NO_WAIT,
    )
    with pytest.raises(PartnerAuthError, match="X-Auth-Token"):
        BigCommerceStore(bad).check()
    unknown = ConnectorEnv(
        settings={"store_hash": "nosuchstore", "api_url": bc_store.server.url},
        vault=MemoryVault({"access_token": bc_store.token}),
        limiters=LimiterRegistry(),
        retry=NO_WAIT,
    )
    with pytest.raises(PartnerError, match="404 Store not found"):
        BigCommerceStore(unknown).check()


def test_paging_returns_every_product_and_variant_once(bc_store: SandboxStore) -> None:
    bc_store.seed(variant_products(600, variants=2))
    pages = list(bc_store.connector().iter_catalog(None))
    skus = [v.sku for page in pages for v in page.items]
    assert len(skus) == 1200 and len(set(skus)) == 1200
    assert bc_store.counters()["calls"]["GET /v3/catalog/products"] == 3  # 250 a page
    cursors = [p.cursor for p in pages if p.cursor is not None]
    assert len(cursors) == len(pages)  # every page says where to resume
    assert cursors == sorted(cursors)


def test_catalog_maps_tracking_to_how_stock_is_addressed(bc_store: SandboxStore) -> None:
    created = bc_store.seed(
        [
            {"name": "Mug", "sku": "MUG", "tracking": "product", "inventory_level": 7},
            {
                "name": "Tee",
                "sku": "TEE",
                "tracking": "variant",
                "variants": [{"sku": "TEE-S", "inventory_level": 3}],
            },
            {"name": "Gift card", "sku": "GIFT", "tracking": "none"},
        ]
    )
    variants = {v.sku: v for page in bc_store.connector().iter_catalog(None) for v in page.items}
    assert (
        variants["MUG"].partner_ref == f"product:{created[0]['id']}:{created[0]['variant_ids'][0]}"
        and variants["MUG"].quantity == 7
    )
    assert (
        variants["TEE-S"].partner_ref
        == f"variant:{created[1]['variant_ids'][0]}:{created[1]['id']}"
    )
    assert variants["TEE-S"].quantity == 3
    assert variants["GIFT"].partner_ref.startswith("none:") and variants["GIFT"].quantity is None
    assert variants["MUG"].price == Decimal("10")


def test_push_uses_fewest_calls_and_mixed_tracking_converges(bc_store: SandboxStore) -> None:
    bc_store.seed(variant_products(2250, variants=2, qty=0))  # 4,500 variant-tracked SKUs
    bc_store.seed(
        [
            {"name": "Mug", "sku": "MUG", "tracking": "product", "inventory_level": 1},
            {"name": "Gift", "sku": "GIFT", "tracking": "none"},
        ]
    )
    store = bc_store.connector()
    refs = {v.sku: v.partner_ref for page in store.iter_catalog(None) for v in page.items}
    updates = [
        StockUpdate(sku, 40 + n % 7, partner_ref=ref) for n, (sku, ref) in enumerate(refs.items())
    ]
    before = bc_store.counters()["calls"].get("PUT /v3/inventory/adjustments/absolute", 0)
    result = store.push_inventory(updates)
    counters = bc_store.counters()["calls"]
    assert result.errors == ()
    assert counters["PUT /v3/inventory/adjustments/absolute"] - before == 3  # ceil(4,501 / 2,000)
    assert counters["largest_batch"] <= 2000
    stock = bc_store.stock()
    expected = {u.sku: u.quantity for u in updates if not (u.partner_ref or "").startswith("none")}
    assert {sku: stock[sku] for sku in expected} == expected
    assert "GIFT" not in stock  # untracked: left alone


def test_a_bad_item_is_reported_and_the_rest_applied(bc_store: SandboxStore) -> None:
    created = bc_store.seed(
        [
            {"name": "Mug", "sku": "MUG", "tracking": "product", "inventory_level": 1},
            {"name": "Tee", "sku": "TEE", "tracking": "variant", "variants": [{"sku": "TEE-S"}]},
        ]
    )
    store = bc_store.connector()
    result = store.push_inventory(
        [
            StockUpdate("MUG", 9, partner_ref=f"product:{created[0]['id']}"),
            StockUpdate("TEE-S", 4, partner_ref=f"product:{created[1]['id']}"),  # wrong level
            StockUpdate("NOPE", 1),
        ]
    )
    assert {e.key for e in result.errors} == {"TEE-S", "NOPE"}
    assert any("not tracked by product" in e.message for e in result.errors)
    assert bc_store.stock()["MUG"] == 9
    assert bc_store.counters()["calls"]["PUT /v3/inventory/adjustments/absolute"] == 2


def test_inventory_writes_are_asynchronous(bc_sandbox: tuple[object, object]) -> None:
    from tests.bc_helpers import new_store

    slow = new_store(*bc_sandbox, async_delay_ms=60_000)  # type: ignore[arg-type]
    created = slow.seed(
        [{"name": "Mug", "sku": "MUG", "tracking": "product", "inventory_level": 1}]
    )
    slow.connector().push_inventory(
        [StockUpdate("MUG", 5, partner_ref=f"product:{created[0]['id']}")]
    )
    assert slow.stock(settle=False)["MUG"] == 1  # not visible yet
    assert slow.stock(settle=True)["MUG"] == 5


def test_orders_with_all_lines_and_never_incomplete(bc_store: SandboxStore) -> None:
    bc_store.seed(variant_products(1, variants=1, qty=500))
    big = bc_store.order([(f"L{i}", 1) for i in range(120)])  # lines page at 50
    bc_store.order([("P0-0", 1)], status_id=0)  # abandoned checkout
    cancelled = bc_store.order([("P0-0", 2)], status_id=5)
    pages = list(bc_store.connector().iter_orders(None))
    orders = {o.web_id: o for page in pages for o in page.items}
    assert set(orders) == {str(big["id"]), str(cancelled["id"])}
    assert len(orders[str(big["id"])].lines) == 120
    assert orders[str(cancelled["id"])].status is WebOrderStatus.CANCELLED
    assert bc_store.counters()["calls"]["GET /v2/orders/{id}/products"] >= 3


def test_orders_since_a_cursor_and_empty_page_is_204(bc_store: SandboxStore) -> None:
    store = bc_store.connector()
    assert list(store.iter_orders(None)) == []  # the sandbox answers 204
    first = bc_store.order([("X", 1)])
    later = datetime.now(UTC)
    pages = list(store.iter_orders(later.replace(year=later.year + 1)))
    assert pages == []
    pages = list(store.iter_orders(datetime(2020, 1, 1, tzinfo=UTC)))
    assert [o.web_id for p in pages for o in p.items] == [str(first["id"])]


def test_status_write_back_sends_the_status_only(bc_store: SandboxStore) -> None:
    bc_store.seed(variant_products(1, variants=1, qty=5))
    order = bc_store.order([("P0-0", 1)])
    store = bc_store.connector(status_after_post=10)
    assert store.acknowledge_orders([str(order["id"])]).errors == ()
    counters = bc_store.counters()["calls"]
    assert counters["PUT /v2/orders/{id}"] == 1
    assert counters.get("lines_rewritten", 0) == 0
    refreshed = [o for p in store.iter_orders(None) for o in p.items]
    assert refreshed[0].status is WebOrderStatus.FULFILLED
    assert (
        bc_store.connector().acknowledge_orders([str(order["id"])]).errors == ()
    )  # off by default
    assert bc_store.counters()["calls"]["PUT /v2/orders/{id}"] == 1


def test_a_write_back_the_store_stops_answering_reports_only_the_unset_orders(
    bc_store: SandboxStore,
) -> None:
    bc_store.seed(variant_products(1, variants=1, qty=5))
    orders = [str(bc_store.order([("P0-0", 1)])["id"]) for _ in range(3)]
    store = bc_store.connector(status_after_post=10)
    bc_store.faults(plan=["ok"] + ["5xx"] * 10)  # the 2nd order's PUT never answers

    errors = store.acknowledge_orders(orders).errors
    bc_store.faults(plan=[])

    assert [e.key for e in errors] == orders[1:]  # the 1st was set and is not reported
    assert {e.code for e in errors} == {"unavailable"}
    statuses = {o.web_id: o.status for p in store.iter_orders(None) for o in p.items}
    assert statuses[orders[0]] is WebOrderStatus.FULFILLED
    assert statuses[orders[2]] is not WebOrderStatus.FULFILLED  # never tried


def test_small_quota_long_push_has_no_failures_and_few_429s(
    bc_sandbox: tuple[object, object],
) -> None:
    from tests.bc_helpers import new_store

    tight = new_store(*bc_sandbox, quota=4, window_ms=500)  # type: ignore[arg-type]
    tight.seed(variant_products(10, variants=1))
    store = tight.connector()
    updates = [StockUpdate(f"P{i % 10}-0", i) for i in range(24_000)]
    batches = [updates[i : i + 2000] for i in range(0, len(updates), 2000)]
    started = datetime.now(UTC)
    for batch in batches:
        unique = {u.sku: u for u in batch}.values()
        assert store.push_inventory(list(unique)).errors == ()
    seconds = (datetime.now(UTC) - started).total_seconds()
    counters = tight.counters()["calls"]
    windows = int(seconds / 0.5) + 1
    assert counters.get("429", 0) <= windows
    assert store.http.counter.requests == 12 + counters.get("429", 0)


def _mock(body: bytes, status: int = 200) -> BigCommerceStore:
    env = ConnectorEnv(
        settings={"store_hash": "abc", "api_url": "https://api.example"},
        vault=MemoryVault({"access_token": "t"}),
        limiters=LimiterRegistry(),
        retry=NO_WAIT,
        transport=httpx.MockTransport(lambda _r: httpx.Response(status, content=body)),
    )
    return BigCommerceStore(env)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (
            b'{"data": [{"id": 1}], "meta": {"pagination": {"total": 1, "count": 1, '
            b'"per_page": 250, '
            b'"current_page": 1, "total_pages": 1}}}',
            "name",
        ),
        (b'{"data": "oops"}', "no data list"),
        (b'{"data": [], "meta": {"pagination": {"total": "many"}}}', "paging"),
    ],
)
def test_malformed_catalog_answers_are_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(PartnerResponseError, match=message):
        list(_mock(body).iter_catalog(None))


def test_malformed_orders_are_clear_errors() -> None:
    body = json.dumps([{"id": 5, "status_id": "shipped", "date_modified": "never"}]).encode()
    with pytest.raises(PartnerResponseError, match="unexpected order from BigCommerce"):
        list(_mock(body).iter_orders(None))


def test_server_errors_are_retried_then_transient(bc_store: SandboxStore) -> None:
    bc_store.seed(variant_products(1))
    bc_store.faults(plan=["5xx", "drop"])
    assert "1 products" in bc_store.connector().check()  # two faults, then success
    bc_store.faults(plan=["5xx"] * 10)
    with pytest.raises(PartnerError) as caught:
        bc_store.connector().check()
    assert caught.value.code == "503"


def test_an_order_modified_while_paging_does_not_hide_another(bc_store: SandboxStore) -> None:
    import time as _time

    bc_store.seed(variant_products(1, variants=1, qty=10_000))
    created = []
    for n in range(260):
        created.append(bc_store.order([("P0-0", 1)]))
        if n in (100, 200):
            _time.sleep(1.1)  # v2 dates have one-second resolution: three distinct instants
    pages = bc_store.connector().iter_orders(None)
    seen = {o.web_id for o in next(pages).items}
    bc_store.call("PUT", f"/orders/{created[0]['id']}", json={"status_id": 10})  # moves to the end
    for page in pages:
        seen |= {o.web_id for o in page.items}
    assert seen == {str(o["id"]) for o in created}
