"""Withholding: the repository's SQL answer equals the domain's function, on random sets of
orders, on SQLite, PostgreSQL and the in-memory unit of work."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockbridge.domain.model import InventorySource, OrderLine, WebOrder, WebOrderStatus
from stockbridge.domain.orders import OrderState, PostState
from stockbridge.domain.withholding import withheld
from tests.cycle_harness import Cycle, DbCycle, MemoryCycle

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_names = itertools.count()

#: Times drawn often from a few shared values, so a posting time and the read's start are
#: often equal or a microsecond apart (where ">" and ">=" differ).
moments = st.sampled_from(
    [T0 - timedelta(seconds=1), T0, T0 + timedelta(microseconds=1), T0 + timedelta(seconds=1)]
) | st.datetimes(
    min_value=datetime(2026, 2, 28), max_value=datetime(2026, 3, 2), timezones=st.just(UTC)
)
lines = st.lists(
    st.builds(
        OrderLine,
        sku=st.sampled_from(["A", "B", "é-C"]),
        quantity=st.integers(0, 5),
        unit_price=st.just(Decimal("1.00")),
    ),
    max_size=3,
)
orders = st.lists(
    st.builds(
        OrderState,
        status=st.sampled_from(WebOrderStatus),
        post_state=st.sampled_from(PostState),
        modified_at=st.just(T0),
        posted_at=st.none() | moments,
        lines=lines.map(tuple),
    ),
    max_size=8,
)


#: Per SKU: its own inventory source (None: the store's) and when the back office's
#: figure the hub holds was set (None: never).
figures = st.fixed_dictionaries(
    {
        sku: st.tuples(st.sampled_from([None, *InventorySource]), st.none() | moments)
        for sku in ["A", "B", "é-C"]
    }
)
Figures = dict[str, tuple[InventorySource | None, datetime | None]]


def _store_orders(
    cycle: Cycle,
    states: list[OrderState],
    source: InventorySource = InventorySource.BACK_OFFICE,
    variants: Figures | None = None,
) -> int:
    """A fresh store holding exactly these orders (rows written as they are), and these
    variants (SKU: own source, back-office modification time)."""
    name = f"w{next(_names)}"
    variants = variants or {}
    if isinstance(cycle, MemoryCycle):
        from tests.memory_state import MemOrder, MemVariant

        store_id = cycle.db.add_store(name)
        for sku, (own, modified) in variants.items():
            variant_id = cycle.db.state.new_id()
            cycle.db.state.variants[variant_id] = MemVariant(
                variant_id, store_id, sku, inventory_source=own, back_office_modified_at=modified
            )
        for n, state in enumerate(states):
            row_id = cycle.db.state.new_id()
            web = WebOrder(str(n), str(n), state.status, state.modified_at, state.lines)
            cycle.db.state.orders[row_id] = MemOrder(
                row_id, store_id, web, state.post_state, posted_at=state.posted_at
            )
        return store_id
    assert isinstance(cycle, DbCycle)
    from stockbridge.db.models import Order, OrderLineRow, Variant

    with cycle.harness.hub.uow() as uow:
        store = uow.stores.add(name, timezone="UTC", inventory_source=source, erp_name=None)
        uow.session.add_all(
            Variant(
                store_id=store.id,
                sku=sku,
                active=True,
                inventory_source=None if own is None else own.value,
                back_office_modified_at=modified,
                updated_at=T0,
            )
            for sku, (own, modified) in variants.items()
        )
        for n, state in enumerate(states):
            row = Order(
                store_id=store.id,
                web_id=str(n),
                number=str(n),
                status=state.status.value,
                modified_at=state.modified_at,
                post_state=state.post_state.value,
                posted_at=state.posted_at,
                created_at=T0,
            )
            uow.session.add(row)
            uow.session.flush()
            uow.session.add_all(
                OrderLineRow(
                    order_id=row.id,
                    line_no=i,
                    sku=line.sku,
                    name="",
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
                for i, line in enumerate(state.lines, start=1)
            )
        uow.commit()
        return store.id


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(states=orders, reflected_at=st.none() | moments)
def test_the_sql_withholding_is_the_domain_function(
    cycle: Cycle, states: list[OrderState], reflected_at: datetime | None
) -> None:
    store_id = _store_orders(cycle, states)
    with cycle.uow() as uow:
        answer = uow.catalog.withheld(store_id, reflected_at)
    assert answer == withheld(states, reflected_at)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    states=orders,
    reflected_at=st.none() | moments,
    source=st.sampled_from(InventorySource),
    variants=figures,
)
def test_the_sql_withholding_with_erp_pushes_is_the_domain_function(
    cycle: Cycle,
    states: list[OrderState],
    reflected_at: datetime | None,
    source: InventorySource,
    variants: Figures,
) -> None:
    """With the store's source given, a posted order is reflected in the api-mode SKUs
    whose figure the ERP pushed at or after its post (``pushed_at``)."""
    store_id = _store_orders(cycle, states, source, variants)
    pushed_at = {
        sku: modified
        for sku, (own, modified) in variants.items()
        if modified is not None and (own or source) is InventorySource.API
    }
    with cycle.uow() as uow:
        answer = uow.catalog.withheld(store_id, reflected_at, source)
    assert answer == withheld(states, reflected_at, pushed_at)


def test_withholding_reaches_an_edge_exactly() -> None:
    """Posted exactly when the read began: the read saw it (not withheld)."""
    state = OrderState(
        WebOrderStatus.OPEN, PostState.POSTED, T0, T0, (OrderLine("A", 1, Decimal("1")),)
    )
    assert withheld([state], T0) == {}
    assert withheld([state], T0 - timedelta(microseconds=1)) == {"A": 1}
