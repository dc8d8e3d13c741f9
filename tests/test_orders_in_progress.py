"""Orders-in keeps its progress when the hub dies mid-page: it commits units of
``ORDERS_UNIT`` orders, each with a cursor that covers only what is committed.

Against the BigCommerce sandbox over HTTP: the hub "dies" (an exception nothing may catch,
as a kill -9 would leave it) at the Nth order-lines call, inside the first page of orders.
The list's ``include`` is taken off on the way (``IgnoresInclude``), so each order's lines
cost a call as they do wherever the list cannot bring them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from stockbridge import services
from stockbridge.connectors.bigcommerce.client import ORDERS_UNIT
from stockbridge.db.models import Cursor, Order, OrderLineRow
from stockbridge.domain.model import Step
from stockbridge.sync.context import Partners, StepOutcome
from stockbridge.sync.orders_in import ORDERS_STREAM
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice

ORDERS_IN = (Step.ORDERS_IN,)
LINES_CALL = re.compile(r"/v2/orders/\d+/products$")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: What a crash may throw away, in orders whose lines were read: about 4 s of line calls
#: at the Standard quota (150 calls / 30 s), where a 250-order page is 50 s.
LOSS_BUDGET = 20


class Died(BaseException):
    """The process died here: not an error any code path may catch and record."""


class IgnoresInclude(httpx.BaseTransport):
    """Real HTTP to the sandbox, the order list asked without its ``include``: a store
    whose list brings no lines, so orders-in reads each order's lines."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v2/orders"):
            request.url = request.url.copy_remove_param("include")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class DiesAtLineCall(IgnoresInclude):
    """As ``IgnoresInclude``, until the ``at``-th order-lines request: the hub dies
    before sending it."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.lines_calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and LINES_CALL.search(request.url.path):
            self.lines_calls += 1
            if self.lines_calls == self.at:
                raise Died(f"killed at order-lines call {self.at}")
        return super().handle_request(request)


def _wire(harness: Harness, bc: SandboxStore, transport: httpx.BaseTransport | None) -> None:
    """(Re)connect the harness's one store to the sandbox store: a new connector, as a
    restarted process would build."""
    if not harness.partners:
        harness.add_store(back_office=FakeBackOffice())
        (store_id,) = harness.partners
        with harness.hub.uow() as uow:
            web_id = uow.stores.connect(
                store_id, role="web", kind="bigcommerce", settings={}, credentials=None
            ).id
            uow.commit()
        partners = harness.partners[store_id]
        harness.partners[store_id] = Partners(
            None, web_id, partners.back_office, partners.back_office_connection_id
        )
    ((store_id, partners),) = harness.partners.items()
    harness.partners[store_id] = Partners(
        bc.connector(transport=transport),
        partners.web_connection_id,
        partners.back_office,
        partners.back_office_connection_id,
    )


def _hub_state(harness: Harness) -> tuple[dict[str, datetime], datetime | None, int]:
    with harness.hub.uow() as uow:
        session = uow.session
        orders = {
            web_id: modified
            for web_id, modified in session.execute(select(Order.web_id, Order.modified_at))
        }
        cursor = session.scalar(select(Cursor.position).where(Cursor.stream == ORDERS_STREAM))
        lines = session.scalar(select(func.count()).select_from(OrderLineRow)) or 0
        return orders, cursor, lines


class CommittedAtEachAdvance:
    """A progress listener that notes, at each advance of orders-in, how many orders the
    hub holds committed: progress must move with what is committed, unit by unit."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.seen: list[tuple[int, int]] = []  # (done, committed)

    def step_started(self, step: Step, total: int | None) -> None:
        pass

    def step_advanced(self, step: Step, done: int, total: int | None) -> None:
        self.seen.append((done, len(_hub_state(self.harness)[0])))

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        pass


def _break_lease(harness: Harness) -> None:
    with harness.hub.uow() as uow:  # the dead process's lease: its pid is gone on a restart
        store_id = next(iter(harness.partners))
        _run, holder, _expires = uow.runs.lease(store_id)
        if holder is not None:
            uow.runs.break_lease(store_id, holder)
        uow.commit()


def test_orders_in_killed_mid_page_keeps_all_but_one_unit(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    count, kill_at = 70, 50  # inside the first page of 250
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 10_000}])
    placed = [bc_store.order([("A", 1)])["id"] for _ in range(count)]
    # One second apart, except five orders sharing one instant across the end of the
    # second unit: the cursor lands on an instant whose last orders are not committed.
    shared = range(2 * ORDERS_UNIT - 2, 2 * ORDERS_UNIT + 3)
    seconds = [shared[0] if i in shared else i for i in range(count)]
    sandbox_orders = bc_store.sandbox.stores[bc_store.hash].orders
    for order_id, second in zip(placed, seconds, strict=True):
        sandbox_orders[order_id].date_modified = T0 + timedelta(seconds=second)
    moments = {str(i): T0 + timedelta(seconds=s) for i, s in zip(placed, seconds, strict=True)}

    dying = DiesAtLineCall(kill_at)
    _wire(sqlite_harness, bc_store, dying)
    progress = CommittedAtEachAdvance(sqlite_harness)
    try:
        services.sync(sqlite_harness.hub, None, ORDERS_IN, listener=progress)
        raise AssertionError("the hub was not killed")
    except Died:
        pass
    assert dying.lines_calls == kill_at
    taken, cursor, _ = _hub_state(sqlite_harness)

    # All but the unit under way is kept: the orders whose lines were in (kill_at - 1),
    # less at most one unit.
    assert len(taken) >= kill_at - 1 - LOSS_BUDGET, f"{len(taken)} orders kept"
    assert cursor is not None
    # The cursor covers only committed orders: every order modified before it is in.
    before = {web_id for web_id, moment in moments.items() if moment < cursor}
    assert before <= set(taken), f"cursor {cursor} passes uncommitted orders"
    assert len(before) >= kill_at - 1 - LOSS_BUDGET - len(shared)
    assert max(taken.values()) <= cursor  # and nothing committed lies beyond it
    # Progress moved with each committed unit, and only with committed ones.
    assert progress.seen == [(n, n) for n in range(ORDERS_UNIT, len(taken) + 1, ORDERS_UNIT)]

    _break_lease(sqlite_harness)
    _wire(sqlite_harness, bc_store, IgnoresInclude())
    calls_before = bc_store.counters()["calls"]["GET /v2/orders/{id}/products"]
    services.sync(sqlite_harness.hub, None, ORDERS_IN)  # the restart
    resumed_calls = bc_store.counters()["calls"]["GET /v2/orders/{id}/products"] - calls_before

    taken_after, cursor_after, lines = _hub_state(sqlite_harness)
    assert taken_after == moments  # each order, once
    assert lines == count
    assert cursor_after == max(moments.values())
    # The restart reads again only from the cursor on (its instant included), not the page.
    assert resumed_calls == count - len(before)
