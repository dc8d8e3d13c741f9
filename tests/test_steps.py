"""The steps' own rules, on the in-memory unit of work (no database): what is committed
before a partner is called, what is looked up before it is sent again, which cursor a
stream resumes from, what inventory-out withholds and pushes. The memory storage lets a
partner fake look at the committed state at the very moment it is called."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from stockbridge.domain.model import (
    OrderLine,
    Page,
    PostOutcome,
    PostRequest,
    RunStatus,
    Step,
    WebOrder,
    WebOrderStatus,
)
from stockbridge.domain.orders import PostState
from stockbridge.domain.withholding import withheld
from stockbridge.sync.inventory_in import STOCK_READ_MARK
from stockbridge.sync.orders_in import ORDERS_STREAM
from tests.conftest import NO_WAIT
from tests.cycle_harness import MemoryCycle
from tests.fakes import EPOCH, FakeBackOffice, FakeWebStore


@pytest.fixture
def mem() -> MemoryCycle:
    return MemoryCycle(NO_WAIT)


class ScriptedWeb(FakeWebStore):
    """Serves the order pages it is given, in that order, and records each ``since``."""

    def __init__(self, pages: list[Page[WebOrder]]) -> None:
        super().__init__()
        self.pages = pages
        self.since: list[datetime | None] = []

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        self.since.append(since)
        yield from self.pages


class WatchingBackOffice(FakeBackOffice):
    """Records, at each partner call, the post state the hub has COMMITTED for the orders
    in it, and the order of calls."""

    def __init__(self, cycle: MemoryCycle) -> None:
        super().__init__()
        self.cycle = cycle
        self.seen: list[tuple[str, dict[str, PostState]]] = []

    def _record(self, call: str, requests: Sequence[PostRequest]) -> None:
        wanted = {r.order.web_id for r in requests}
        committed = self.cycle.db.state.orders.values()
        states = {o.order.web_id: o.post_state for o in committed if o.order.web_id in wanted}
        self.seen.append((call, states))

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        self._record("post_orders", requests)
        return super().post_orders(requests)

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        self._record("find_posted", requests)
        return super().find_posted(requests)


def _order(web_id: str, status: WebOrderStatus, at: int) -> WebOrder:
    line = OrderLine("A", 1, Decimal("9.99"))
    return WebOrder(web_id, f"W{web_id}", status, EPOCH + timedelta(seconds=at), (line,))


# orders-in ----------------------------------------------------------------------------


def test_orders_in_keeps_the_newest_copy_whatever_order_the_pages_come_in(
    mem: MemoryCycle,
) -> None:
    web = ScriptedWeb([])
    newer = _order("7", WebOrderStatus.CANCELLED, 20)
    stale = _order("7", WebOrderStatus.OPEN, 10)
    web.pages = [Page((newer,), cursor=newer.modified_at), Page((stale,), cursor=stale.modified_at)]
    store = mem.add_store(web=web)

    assert mem.sync((Step.ORDERS_IN,)).status is RunStatus.SUCCEEDED

    state = mem.order_state(store, "7")
    assert state is not None
    assert (state.status, state.post_state) == (WebOrderStatus.CANCELLED, PostState.NOT_POSTABLE)


def test_orders_in_cursor_only_moves_forward_and_the_next_run_resumes_there(
    mem: MemoryCycle,
) -> None:
    web = ScriptedWeb([])
    late, early = _order("1", WebOrderStatus.OPEN, 50), _order("2", WebOrderStatus.OPEN, 30)
    # A partner page may report an older cursor than one before it: never go back to it.
    web.pages = [Page((late,), cursor=late.modified_at), Page((early,), cursor=early.modified_at)]
    store = mem.add_store(web=web)
    connection = mem.partners[store].web_connection_id
    assert connection is not None

    mem.sync((Step.ORDERS_IN,))
    assert mem.db.state.cursors[(connection, ORDERS_STREAM)] == late.modified_at
    web.pages = []
    mem.sync((Step.ORDERS_IN,))
    assert web.since == [None, late.modified_at]


def test_orders_in_commits_each_page_with_its_cursor(mem: MemoryCycle) -> None:
    web = FakeWebStore(page_size=2)
    web.add_variant("A", 10)
    orders = [web.place_order([("A", 1)]) for _ in range(5)]
    store = mem.add_store(web=web)
    connection = mem.partners[store].web_connection_id
    published: list[tuple[datetime | None, set[str]]] = []
    mem.db.on_commit.append(
        lambda state: published.append(
            (
                state.cursors.get((connection, ORDERS_STREAM)),
                {o.order.web_id for o in state.orders.values()},
            )
        )
    )

    mem.sync((Step.ORDERS_IN,))

    cursors = [c for c, _ in published if c is not None]
    assert sorted(set(cursors)) == [orders[n].modified_at for n in (1, 3, 4)]
    for cursor, taken in published:  # each commit holds exactly what its cursor covers
        if cursor is not None:
            assert taken == {o.web_id for o in orders if o.modified_at <= cursor}


# orders-out ---------------------------------------------------------------------------


def _shop(mem: MemoryCycle) -> tuple[int, FakeWebStore, WatchingBackOffice]:
    web, bo = FakeWebStore(), WatchingBackOffice(mem)
    web.add_variant("A", 0)
    bo.set_item("A", 10)
    return mem.add_store(web=web, back_office=bo), web, bo


def test_orders_are_committed_uncertain_before_the_back_office_is_called(
    mem: MemoryCycle,
) -> None:
    _store, web, bo = _shop(mem)
    orders = [web.place_order([("A", 1)]) for _ in range(3)]

    assert mem.sync().status is RunStatus.SUCCEEDED

    assert bo.seen == [("post_orders", {o.web_id: PostState.UNCERTAIN for o in orders})]


def test_an_uncertain_order_is_looked_up_before_it_is_ever_sent_again(mem: MemoryCycle) -> None:
    store, web, bo = _shop(mem)
    dropped = web.place_order([("A", 1)])
    bo.faults.plan("post_orders", "after")  # taken, then the connection dropped

    assert mem.sync().status is RunStatus.SUCCEEDED
    assert [call for call, _ in bo.seen] == ["post_orders", "find_posted"]

    crashed = web.place_order([("A", 1)])
    bo.faults.plan("post_orders", "crash")  # taken, then the hub died before recording it
    assert mem.sync().status is RunStatus.FAILED
    assert mem.sync().status is RunStatus.SUCCEEDED
    assert bo.seen[2:] == [
        ("post_orders", {crashed.web_id: PostState.UNCERTAIN}),
        ("find_posted", {crashed.web_id: PostState.UNCERTAIN}),  # looked up, not re-posted
    ]
    assert [len(bo.documents_for(o.web_id)) for o in (dropped, crashed)] == [1, 1]
    states = [mem.order_state(store, o.web_id) for o in (dropped, crashed)]
    assert [s.post_state if s else None for s in states] == [PostState.POSTED] * 2


# inventory-out ------------------------------------------------------------------------


@pytest.mark.parametrize("read_began_after_posting", [False, True])
def test_withholding_reaches_inventory_out(
    mem: MemoryCycle, read_began_after_posting: bool
) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("A", 0)
    bo.set_item("A", 20)
    store = mem.add_store(web=web, back_office=bo)
    mem.sync((Step.INVENTORY_IN,))
    pending, uncertain, posted = (web.place_order([("A", n)]) for n in (2, 3, 4))
    cancelled = web.place_order([("A", 8)], status=WebOrderStatus.CANCELLED)
    bo_connection = mem.partners[store].back_office_connection_id
    assert bo_connection is not None
    with mem.uow() as uow:
        uow.orders.apply_page(store, [pending, uncertain, posted, cancelled])
        rows = {p.order.web_id: p.row_id for p in uow.orders.next_to_post(store, 0, 10)}
        uow.orders.mark_uncertain([rows[uncertain.web_id]])
        uow.orders.mark_posted(store, bo_connection, {posted.web_id: "SR9"})
        uow.stores.advance_cursor(bo_connection, STOCK_READ_MARK, EPOCH)
        if read_began_after_posting:
            later = datetime.now(UTC) + timedelta(hours=1)
            uow.stores.advance_cursor(bo_connection, STOCK_READ_MARK, later)
        uow.commit()
        mark = uow.stores.cursor(bo_connection, STOCK_READ_MARK)
        expected = 20 - withheld((o.state() for o in mem.db.state.orders.values()), mark).get(
            "A", 0
        )

    assert mem.sync((Step.INVENTORY_OUT,)).status is RunStatus.SUCCEEDED

    assert expected == (15 if read_began_after_posting else 11)  # 20 - 2 - 3 (- 4)
    assert web.batches[-1][0].quantity == expected and web.quantity("A") == expected


def test_inventory_out_pushes_only_what_differs_from_what_was_sent(mem: MemoryCycle) -> None:
    web, bo = FakeWebStore(max_inventory_batch=3), FakeBackOffice()
    for n in range(7):
        web.add_variant(f"S{n}", 0)
        bo.set_item(f"S{n}", 10 + n)
    store = mem.add_store(web=web, back_office=bo)
    web_connection = mem.partners[store].web_connection_id
    mem.sync()
    assert [len(b) for b in web.batches] == [3, 3, 1]
    sent = {
        mem.db.state.levels[hub_id].variant_id: link.sent_value
        for (connection, entity, hub_id), link in mem.db.state.links.items()
        if connection == web_connection and entity == "stock"
    }
    pushed = [value for value in sent.values() if value is not None]
    assert len(pushed) == len(sent)  # every level pushed records what it sent
    assert sorted(pushed) == [str(10 + n) for n in range(7)]

    web.batches.clear()
    mem.sync()
    assert web.batches == []  # nothing changed, nothing pushed

    bo.set_item("S3", 99)
    report = mem.sync()
    assert [[(u.sku, u.quantity) for u in b] for b in web.batches] == [[("S3", 99)]]
    assert report.steps["inventory-out"]["changed"] == 1


def test_a_hub_crash_mid_step_is_recorded_and_stops_the_run(mem: MemoryCycle) -> None:
    _store, web, bo = _shop(mem)
    web.place_order([("A", 1)])
    bo.faults.plan("post_orders", "crash")
    report = mem.sync()
    assert report.status is RunStatus.FAILED and "HubCrash" in (report.error or "")
    assert "inventory-out" not in report.steps  # a bug in the hub stops the run
