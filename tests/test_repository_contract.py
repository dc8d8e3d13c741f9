"""The storage ports' contracts, held by the SQL repositories on SQLite and PostgreSQL and
by the tests' in-memory unit of work alike (which is how the fake is proven to behave like
the real thing). Everything is observed through the ports, plus ``orders.state``."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from stockbridge import ports
from stockbridge.db import catalog as sql_catalog
from stockbridge.db import orders as sql_orders
from stockbridge.db import runs as sql_runs
from stockbridge.db import stores as sql_stores
from stockbridge.domain.inventory import StockRow
from stockbridge.domain.model import (
    BackOfficeItem,
    InventorySource,
    ItemError,
    OrderLine,
    RefundLine,
    RunStatus,
    Step,
    Trigger,
    WebOrder,
    WebOrderStatus,
    WebRefund,
    WebVariant,
)
from stockbridge.domain.orders import PostState
from tests.conftest import NO_WAIT
from tests.cycle_harness import Cycle, DbCycle, MemoryCycle
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.memory_repos import MemoryCatalog, MemoryOrders
from tests.memory_uow import MemoryRuns, MemoryStores

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BO, WEB = InventorySource.BACK_OFFICE, InventorySource.WEB


@dataclass
class Shop:
    cycle: Cycle
    store_id: int
    web_id: int  # the web connection
    bo_id: int  # the back-office connection


@pytest.fixture
def shop(cycle: Cycle) -> Shop:
    store_id = cycle.add_store(web=FakeWebStore(), back_office=FakeBackOffice())
    partners = cycle.partners[store_id]
    assert partners.web_connection_id is not None
    assert partners.back_office_connection_id is not None
    return Shop(cycle, store_id, partners.web_connection_id, partners.back_office_connection_id)


def order(web_id: str, status: WebOrderStatus, at: int, *lines: tuple[str, int]) -> WebOrder:
    return WebOrder(
        web_id,
        f"W{web_id}",
        status,
        T0 + timedelta(seconds=at),
        tuple(OrderLine(sku, qty, Decimal("2.50"), sku) for sku, qty in lines),
        total=Decimal("2.50") * sum(q for _, q in lines),
    )


def all_stock_rows(shop: Shop, limit: int) -> Iterator[StockRow]:
    after = 0
    while True:
        with shop.cycle.uow() as uow:
            chunk = uow.catalog.stock_rows(
                shop.store_id,
                web_connection_id=shop.web_id,
                store_source=InventorySource.BACK_OFFICE,
                after=after,
                limit=limit,
            )
        if not chunk.rows:
            return
        yield from chunk.rows
        after = chunk.resume_after


# the ports themselves -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "implementations"),
    [
        (ports.StoreRepository, (sql_stores.StoreRepository, MemoryStores)),
        (ports.CatalogRepository, (sql_catalog.CatalogRepository, MemoryCatalog)),
        (ports.OrderRepository, (sql_orders.OrderRepository, MemoryOrders)),
        (ports.RunRepository, (sql_runs.RunRepository, MemoryRuns)),
    ],
)
def test_both_implementations_have_every_port_method_with_its_parameters(
    port: type, implementations: tuple[type, ...]
) -> None:
    methods = [n for n, v in vars(port).items() if callable(v) and not n.startswith("_")]
    assert methods
    for implementation in implementations:
        for name in methods:
            wanted = list(inspect.signature(getattr(port, name)).parameters)
            assert list(inspect.signature(getattr(implementation, name)).parameters) == wanted


# stores -------------------------------------------------------------------------------


def test_a_cursor_only_moves_forward_and_only_when_committed(shop: Shop) -> None:
    with shop.cycle.uow() as uow:
        assert uow.stores.cursor(shop.web_id, "orders") is None
        uow.stores.advance_cursor(shop.web_id, "orders", T0)
        uow.commit()
    with shop.cycle.uow() as uow:
        uow.stores.advance_cursor(shop.web_id, "orders", T0 - timedelta(1))  # backward
        uow.stores.advance_cursor(shop.web_id, "orders", None)
        uow.commit()
    with shop.cycle.uow() as uow:
        assert uow.stores.cursor(shop.web_id, "orders") == T0
        uow.stores.advance_cursor(shop.web_id, "orders", T0 + timedelta(1))  # not committed
    with shop.cycle.uow() as uow:
        assert uow.stores.cursor(shop.web_id, "orders") == T0
        assert uow.stores.cursor(shop.bo_id, "orders") is None  # per connection
        settings = uow.stores.settings(shop.store_id)
        assert settings is not None and settings.id == shop.store_id
        assert uow.stores.connection_kind(shop.web_id) == "fake-web"


# orders -------------------------------------------------------------------------------


def test_apply_page_takes_newest_copies_and_the_lifecycle_of_the_domain(shop: Shop) -> None:
    cycle, store = shop.cycle, shop.store_id
    cycle.set_hub_managed(store, "PRE", 10)
    with cycle.uow() as uow:
        first = [order("1", WebOrderStatus.OPEN, 5, ("PRE", 3)), order("2", WebOrderStatus.OPEN, 5)]
        assert uow.orders.apply_page(store, first) == 2
        uow.commit()
    assert cycle.levels(store, "PRE") == [(None, None, 7)]  # taken
    with cycle.uow() as uow:
        stale = order("1", WebOrderStatus.CANCELLED, 4, ("PRE", 3))
        cancelled = order("2", WebOrderStatus.CANCELLED, 6)
        assert uow.orders.apply_page(store, [stale, cancelled]) == 1
        uow.commit()
    one, two = cycle.order_state(store, "1"), cycle.order_state(store, "2")
    assert one is not None and two is not None
    assert (one.status, one.post_state) == (WebOrderStatus.OPEN, PostState.PENDING)
    assert one.lines == (OrderLine("PRE", 3, Decimal("2.50"), "PRE"),)
    assert (two.status, two.post_state) == (WebOrderStatus.CANCELLED, PostState.NOT_POSTABLE)
    with cycle.uow() as uow:
        uow.orders.apply_page(store, [order("1", WebOrderStatus.CANCELLED, 7, ("PRE", 3))])
        uow.commit()
    assert cycle.levels(store, "PRE") == [(None, None, 10)]  # given back


def test_the_way_to_the_back_office(shop: Shop) -> None:
    cycle, store = shop.cycle, shop.store_id
    with cycle.uow() as uow:
        uow.orders.apply_page(
            store,
            [order(str(n), WebOrderStatus.OPEN, n, ("A", 1)) for n in range(1, 5)]
            + [order("9", WebOrderStatus.CANCELLED, 9, ("A", 1))],
        )
        uow.commit()
    with cycle.uow() as uow:
        assert uow.orders.count_to_post(store) == 4
        batch = uow.orders.next_to_post(store, 0, 3)
        assert [p.order.web_id for p in batch] == ["1", "2", "3"]
        assert not any(p.uncertain for p in batch)
        rest = uow.orders.next_to_post(store, batch[-1].row_id, 3)
        assert [p.order.web_id for p in rest] == ["4"]
        uow.orders.mark_uncertain([p.row_id for p in batch])
        uow.commit()
    with cycle.uow() as uow:
        assert [p.uncertain for p in uow.orders.next_to_post(store, 0, 10)] == [
            True,
            True,
            True,
            False,
        ]
        uow.orders.mark_posted(store, shop.bo_id, {"1": "SR1"})
        uow.orders.mark_refused(store, "2", "no such item")
        uow.orders.mark_not_postable([batch[2].row_id])
        uow.commit()
    states = {w: cycle.order_state(store, w) for w in ("1", "2", "3", "4")}
    assert {w: s.post_state for w, s in states.items() if s} == {
        "1": PostState.POSTED,
        "2": PostState.PENDING,
        "3": PostState.NOT_POSTABLE,
        "4": PostState.PENDING,
    }
    with cycle.uow() as uow:
        assert [p.order.web_id for p in uow.orders.next_to_post(store, 0, 10)] == ["2", "4"]
        assert [w for _row, w in uow.orders.to_acknowledge(store, 2, 0, 10)] == ["1"]
        uow.orders.mark_acknowledged(store, [], ["1"])
        uow.commit()
    with cycle.uow() as uow:
        assert [w for _row, w in uow.orders.to_acknowledge(store, 2, 0, 10)] == ["1"]
        uow.orders.mark_acknowledged(store, [], ["1"])  # the second refusal: no more tries
        uow.commit()
    with cycle.uow() as uow:
        assert uow.orders.to_acknowledge(store, 2, 0, 10) == []


def test_reversals_of_posted_orders(shop: Shop) -> None:
    """Refunds and a cancel after posting become reversals, sent only once the order is
    posted; a refund of an order never posted is refused; refusals are listed once."""
    cycle, store = shop.cycle, shop.store_id
    cycle.set_hub_managed(store, "A", 10)
    with cycle.uow() as uow:
        uow.orders.apply_page(
            store,
            [
                order("1", WebOrderStatus.OPEN, 1, ("A", 2)),
                order("2", WebOrderStatus.OPEN, 2, ("A", 1)),
            ],
        )
        uow.orders.mark_posted(store, shop.bo_id, {"1": "SR1"})
        uow.commit()
    refund = WebRefund("r1", Decimal("2.50"), lines=(RefundLine("1-0", 1, Decimal("2.50")),))
    with_lines = replace(
        order("1", WebOrderStatus.OPEN, 3, ("A", 2)),
        lines=(OrderLine("A", 2, Decimal("2.50"), "A", "1-0"),),
        refunds=(refund,),
    )
    with cycle.uow() as uow:
        uow.orders.apply_page(
            store, [with_lines, order("2", WebOrderStatus.CANCELLED, 4, ("A", 1))]
        )
        uow.commit()
    with cycle.uow() as uow:
        assert uow.orders.count_reversals(store) == 1
        (pending,) = uow.orders.next_reversals(store, shop.bo_id, 0, 10)
        assert (pending.order.web_id, pending.reversal.key, pending.seq) == ("1", "refund-r1", 1)
        assert (pending.document_ref, pending.uncertain) == ("SR1", False)
        assert pending.reversal.total == Decimal("2.50")
        uow.orders.mark_reversals_uncertain([pending.row_id])
        uow.commit()
    with cycle.uow() as uow:
        (again,) = uow.orders.next_reversals(store, shop.bo_id, 0, 10)
        assert again.uncertain
        uow.orders.mark_reversals_done({again.row_id: "RR7"})
        uow.commit()
    # 10 - 2 - 1 (taken) + 1 (order 2 cancelled before posting) + 1 (refund booked)
    assert cycle.levels(store, "A")[0][2] == 9
    # the cancel of order 1 after posting: a void, then a refund of order 2 never posted
    late = replace(
        with_lines, status=WebOrderStatus.CANCELLED, modified_at=T0 + timedelta(seconds=5)
    )
    never = replace(
        order("2", WebOrderStatus.CANCELLED, 6, ("A", 1)),
        lines=(OrderLine("A", 1, Decimal("2.50"), "A", "2-0"),),
        refunds=(WebRefund("r2", Decimal("2.50"), lines=(RefundLine("2-0", 1, Decimal("2.50")),)),),
    )
    with cycle.uow() as uow:
        uow.orders.apply_page(store, [late, never])
        assert uow.orders.refuse_unposted_reversals(store) == 1
        refusals = uow.orders.unreported_refusals(store)
        uow.commit()
    assert [(n, "never posted" in why) for n, why in refusals] == [("W2", True)]
    with cycle.uow() as uow:
        assert uow.orders.unreported_refusals(store) == []
        (void,) = uow.orders.next_reversals(store, shop.bo_id, 0, 10)
        assert (void.reversal.key, void.reversal.kind.value, void.seq) == ("cancel", "refund", 2)
        assert [(r.key, r.state, r.document_ref) for r in uow.orders.reversals(store, "1")] == [
            ("refund-r1", "done", "RR7"),
            ("cancel", "pending", None),
        ]
    assert cycle.levels(store, "A")[0][2] == 9  # the cancel gives back once it is booked
    with cycle.uow() as uow:
        uow.orders.mark_reversals_done({void.row_id: "SR1"})
        uow.orders.mark_reversals_done({void.row_id: "SR1"})  # recorded twice: counted once
        uow.commit()
    assert cycle.levels(store, "A")[0][2] == 10


# catalog ------------------------------------------------------------------------------


def test_back_office_reports_merge_newest_first(shop: Shop) -> None:
    cycle, store = shop.cycle, shop.store_id
    cycle.set_hub_managed(store, "PRE", 4)
    with cycle.uow() as uow:
        items = [
            BackOfficeItem("A", "Apple", Decimal("1.00"), 10, True, T0),
            BackOfficeItem("B", "Box", Decimal("2.00"), None, True, T0),  # non-stock
            BackOfficeItem("PRE", "Pre", Decimal("3.00"), 50, True, T0),
        ]
        assert uow.catalog.apply_back_office_items(store, items, store_source=BO) == 3
        uow.commit()
    with cycle.uow() as uow:
        later = [
            BackOfficeItem("A", None, None, 12, True, T0 - timedelta(1)),  # stale
            BackOfficeItem("B", None, None, None, False, T0 + timedelta(1)),
        ]
        assert uow.catalog.apply_back_office_items(store, later, store_source=BO) == 1
        uow.commit()
        rows = {row[0]: row for row in uow.catalog.iter_back_office_state(store)}
    assert cycle.levels(store, "A") == [(10, None, None)]
    assert cycle.levels(store, "B") == [(None, None, None)]
    assert cycle.levels(store, "PRE") == [(50, None, 4)]  # the hub's own figure untouched
    assert [(*r[:3], r[4], bool(r[5])) for r in rows.values()] == [
        ("A", "default", 10, "Apple", False),
        ("B", "default", None, "Box", False),
        ("PRE", "default", 50, "Pre", True),
    ]
    assert Decimal(str(rows["A"][3])) == Decimal("1.00")


@pytest.mark.parametrize("web_is_master", [True, False])
def test_web_variants_merge_by_the_web_master_rule_and_drift_forgets_what_was_sent(
    shop: Shop, web_is_master: bool
) -> None:
    cycle, store = shop.cycle, shop.store_id
    with cycle.uow() as uow:
        uow.catalog.apply_back_office_items(
            store, [BackOfficeItem("A", "Hub", Decimal("1.00"), 9, True, T0)], store_source=BO
        )
        seen = [WebVariant("A", "ref-A", "Web", Decimal("2.00"), 5, T0)]
        assert uow.catalog.apply_web_variants(store, shop.web_id, seen, store_source=BO) == 1
        uow.commit()
    sent = {row.sku: row for row in all_stock_rows(shop, 10)}
    assert sent["A"].partner_ref == "ref-A" and sent["A"].last_sent is None
    with cycle.uow() as uow:
        uow.catalog.record_sent(shop.web_id, [(sent["A"].stock_id, 9)])
        uow.commit()
    assert [r.last_sent for r in all_stock_rows(shop, 10)] == [9]
    with cycle.uow() as uow:
        again = [WebVariant("A", "ref-A", "Web", Decimal("2.00"), 9, T0 + timedelta(1))]
        uow.catalog.apply_web_variants(
            store, shop.web_id, again, store_source=WEB if web_is_master else BO
        )
        uow.commit()
    assert [r.last_sent for r in all_stock_rows(shop, 10)] == [9]  # the web holds what we sent
    with cycle.uow() as uow:
        drift = [WebVariant("A", "ref-A", "Web", Decimal("2.00"), 4, T0 + timedelta(2))]
        uow.catalog.apply_web_variants(
            store, shop.web_id, drift, store_source=WEB if web_is_master else BO
        )
        stale = [WebVariant("A", "ref-A", "Old", Decimal("7.00"), 1, T0)]
        assert uow.catalog.apply_web_variants(store, shop.web_id, stale, store_source=WEB) == 0
        uow.commit()
    assert [r.last_sent for r in all_stock_rows(shop, 10)] == [None]  # sent again next run
    assert cycle.levels(store, "A") == [(9, 4, None)]
    with cycle.uow() as uow:
        name = next(iter(uow.catalog.iter_back_office_state(store)))[4]
    assert name == ("Web" if web_is_master else "Hub")


@pytest.mark.parametrize(
    ("source", "from_web", "from_erp", "orders_take"),
    [
        (InventorySource.BACK_OFFICE, False, False, True),
        (InventorySource.WEB, False, False, True),
        (InventorySource.ERP_VIA_WEB, True, False, False),
        (InventorySource.API, False, True, True),
    ],
)
def test_an_assigned_products_hub_quantity_moves_only_for_its_owner(
    cycle: Cycle, source: InventorySource, from_web: bool, from_erp: bool, orders_take: bool
) -> None:
    """The mode table (domain/ownership.py) as the repositories apply it: the web's figure
    becomes the hub's quantity only in erp_via_web, the ERP's only in api mode, and web
    orders take from it wherever the hub pushes it."""
    store = cycle.add_store(source=source, web=FakeWebStore(), back_office=FakeBackOffice())
    partners = cycle.partners[store]
    assert partners.web_connection_id is not None
    cycle.set_hub_managed(store, "PRE", 25)
    with cycle.uow() as uow:
        seen = [WebVariant("PRE", "ref", "Pre", None, 40, T0)]
        uow.catalog.apply_web_variants(store, partners.web_connection_id, seen, store_source=source)
        uow.commit()
    expected = 40 if from_web else 25
    assert cycle.levels(store, "PRE") == [(None, 40, expected)]
    with cycle.uow() as uow:
        erp = [BackOfficeItem("PRE", quantity=30, modified_at=T0)]
        uow.catalog.apply_back_office_items(store, erp, store_source=source)
        uow.commit()
    expected = 30 if from_erp else expected
    assert cycle.levels(store, "PRE") == [(30, 40, expected)]
    with cycle.uow() as uow:
        uow.orders.apply_page(store, [order("1", WebOrderStatus.OPEN, 1, ("PRE", 2))])
        uow.commit()
    assert cycle.levels(store, "PRE") == [(30, 40, expected - 2 if orders_take else expected)]


def test_stock_rows_stream_in_pages_past_variants_without_stock(shop: Shop) -> None:
    cycle, store = shop.cycle, shop.store_id
    with cycle.uow() as uow:
        items = [BackOfficeItem(f"S{n}", quantity=n, modified_at=T0) for n in range(5)]
        items.append(BackOfficeItem("S2", quantity=7, modified_at=T0, location="annex"))
        uow.catalog.apply_back_office_items(store, items, store_source=BO)
        uow.commit()
    for sku in ("N1", "N2", "N3"):  # known to the hub with no stock row at all
        _variant_without_stock(cycle, store, sku)
    with cycle.uow() as uow:
        uow.catalog.apply_back_office_items(
            store, [BackOfficeItem("Z", quantity=1)], store_source=BO
        )
        uow.commit()
        assert uow.catalog.count_stock_rows(store) == 7
    for limit in (1, 2, 1000):
        rows = list(all_stock_rows(shop, limit))  # in variant order: creation order, here
        assert len({r.stock_id for r in rows}) == len(rows)
        assert sorted((r.sku, r.location, r.back_office_qty) for r in rows) == [
            ("S0", "default", 0),
            ("S1", "default", 1),
            ("S2", "annex", 7),
            ("S2", "default", 2),
            ("S3", "default", 3),
            ("S4", "default", 4),
            ("Z", "default", 1),
        ]


def _variant_without_stock(cycle: Cycle, store_id: int, sku: str) -> None:
    if isinstance(cycle, MemoryCycle):
        variant_id = cycle.db.state.new_id()
        from tests.memory_state import MemVariant

        cycle.db.state.variants[variant_id] = MemVariant(variant_id, store_id, sku)
        cycle.db.state.variant_ids[(store_id, sku)] = variant_id
        return
    assert isinstance(cycle, DbCycle)
    from stockbridge.db.models import Variant

    with cycle.harness.hub.uow() as uow:
        uow.session.add(Variant(store_id=store_id, sku=sku, active=True, updated_at=T0))
        uow.commit()


# runs ---------------------------------------------------------------------------------


def test_runs_merge_requests_and_keep_one_lease_per_store(shop: Shop) -> None:
    cycle, store = shop.cycle, shop.store_id
    with cycle.uow() as uow:
        run_id, merged = uow.runs.queue(store, (Step.ORDERS_IN, Step.ORDERS_OUT), Trigger.MANUAL)
        assert not merged
        assert uow.runs.queue(store, (Step.ORDERS_IN,), Trigger.MANUAL) == (run_id, True)
        other, merged = uow.runs.queue(store, (Step.ORDERS_IN,), Trigger.SCHEDULE)
        assert other != run_id and not merged
        uow.commit()
    with cycle.uow() as uow:
        assert uow.runs.acquire_lease(store, run_id, "me", 60)
        assert uow.runs.acquire_lease(store, run_id, "me", 60)  # already ours
        assert not uow.runs.acquire_lease(store, other, "you", 60)
        assert uow.runs.lease_holder(store) == "me"
        assert uow.runs.claim(run_id)
        uow.runs.set_progress(run_id, {"orders-in": {"status": "succeeded"}})
        uow.runs.add_errors(run_id, Step.ORDERS_OUT, [ItemError("order W1", "no", "2500")])
        assert not uow.runs.renew_lease(store, run_id, "you", 60)
        assert uow.runs.renew_lease(store, run_id, "me", 60)
        uow.commit()
    with cycle.uow() as uow:
        record = uow.runs.record(run_id)
        assert record is not None
        assert (record.status, record.trigger, record.steps) == (
            RunStatus.RUNNING,
            Trigger.MANUAL,
            (Step.ORDERS_IN, Step.ORDERS_OUT),
        )
        assert record.progress == {"orders-in": {"status": "succeeded"}}
        assert uow.runs.item_errors(run_id) == [ItemError("order W1", "no", "2500")]
        uow.runs.finish(run_id, RunStatus.PARTIAL, None)
        assert not uow.runs.claim(run_id)
        uow.runs.release_lease(store, run_id, "me")
        assert uow.runs.lease_holder(store) is None
        assert uow.runs.acquire_lease(store, other, "you", 60)
        assert not uow.runs.break_lease(store, "me")
        assert uow.runs.break_lease(store, "you")
        assert uow.runs.lease_holder(store) is None
        uow.commit()
        assert uow.runs.record(10_000) is None


def test_nothing_is_kept_without_commit(shop: Shop) -> None:
    with shop.cycle.uow() as uow:
        uow.orders.apply_page(shop.store_id, [order("1", WebOrderStatus.OPEN, 1, ("A", 1))])
    assert shop.cycle.order_state(shop.store_id, "1") is None


def test_the_memory_unit_of_work_refuses_to_nest() -> None:
    cycle = MemoryCycle(NO_WAIT)
    with cycle.uow(), pytest.raises(RuntimeError, match="inside another"), cycle.uow():
        pass


def test_catalog_rows_carry_what_the_web_shows_and_the_marks(shop: Shop) -> None:
    with shop.cycle.uow() as uow:
        uow.catalog.apply_back_office_items(
            shop.store_id,
            [
                BackOfficeItem("A", "Ann", Decimal("3.50"), 2, True, T0),
                BackOfficeItem("B", "Bob", Decimal("4"), None, False, T0),
            ],
            store_source=BO,
        )
        uow.catalog.apply_web_variants(
            shop.store_id,
            shop.web_id,
            [
                WebVariant("A", "product:7:8", "Ann", Decimal("3.5"), 1, T0, visible=False),
                WebVariant("W", "product:9:10", "Web only", None, 1, T0),
            ],
            store_source=BO,
        )
        uow.commit()
    with shop.cycle.uow() as uow:
        first = uow.catalog.catalog_rows(
            shop.store_id, web_connection_id=shop.web_id, after=0, limit=2
        )
        rest = uow.catalog.catalog_rows(
            shop.store_id, web_connection_id=shop.web_id, after=first.resume_after, limit=2
        )
    rows = {r.sku: r for r in first.rows + rest.rows}
    assert [len(first.rows), len(rest.rows)] == [2, 1]
    a, b, w = rows["A"], rows["B"], rows["W"]
    assert (a.partner_ref, a.sent_price, a.sent_name, a.web_visible) == (
        "product:7:8",
        "3.50",
        "Ann",
        False,
    )
    assert a.from_back_office and a.active and a.price == Decimal("3.50")
    assert (b.partner_ref, b.active, b.from_back_office) == (None, False, True)
    assert not w.from_back_office and w.web_visible is None
    with shop.cycle.uow() as uow:
        uow.catalog.record_web_refs(shop.web_id, [(b.variant_id, "product:11:12")])
        uow.catalog.record_catalog_sent(shop.web_id, "creating", [(b.variant_id, "1")])
        uow.catalog.record_catalog_sent(shop.web_id, "hidden", [(a.variant_id, "1")])
        uow.catalog.record_catalog_sent(shop.web_id, "price", [(a.variant_id, "9.99")])
        uow.commit()
    with shop.cycle.uow() as uow:
        again = uow.catalog.catalog_rows(
            shop.store_id, web_connection_id=shop.web_id, after=0, limit=10
        )
        assert (
            uow.catalog.catalog_rows(
                shop.store_id, web_connection_id=shop.web_id, after=again.resume_after, limit=10
            ).rows
            == []
        )
    rows = {r.sku: r for r in again.rows}
    assert (rows["B"].partner_ref, rows["B"].creating) == ("product:11:12", True)
    assert (rows["A"].hidden, rows["A"].sent_price) == (True, "9.99")
    with shop.cycle.uow() as uow:
        uow.catalog.record_catalog_sent(shop.web_id, "creating", [(b.variant_id, None)])
        # not committed: nothing changes
    with shop.cycle.uow() as uow:
        kept = uow.catalog.catalog_rows(
            shop.store_id, web_connection_id=shop.web_id, after=0, limit=10
        )
    assert {r.sku: r.creating for r in kept.rows}["B"] is True
