"""Properties of the pure inventory arithmetic and batching."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.batching import batched, calls_needed
from stockbridge.domain.inventory import StockRow, available_to_web, plan_push, target_quantity
from stockbridge.domain.model import DEFAULT_LOCATION, InventorySource

quantities = st.integers(-1000, 100_000)
maybe_qty = st.none() | quantities

rows = st.builds(
    StockRow,
    stock_id=st.integers(1, 10**9),
    sku=st.sampled_from(["A", "B", "C", "D"]),
    location=st.sampled_from([DEFAULT_LOCATION, "warehouse"]),
    source=st.sampled_from(list(InventorySource)),
    hub_managed=st.booleans(),
    back_office_qty=maybe_qty,
    hub_qty=maybe_qty,
    last_sent=st.none() | st.integers(0, 100_000),
    partner_ref=st.none() | st.text(max_size=5),
)


@given(quantities, quantities)
def test_available_is_never_negative_and_never_above_source(source: int, withheld: int) -> None:
    available = available_to_web(source, withheld)
    assert 0 <= available <= max(0, source)
    if withheld <= 0:
        assert available == max(0, source)


@given(rows, st.integers(0, 1000))
def test_target_follows_the_source_of_truth(row: StockRow, withheld: int) -> None:
    target = target_quantity(row, withheld)
    web_owns = row.source is InventorySource.ERP_VIA_WEB or (
        row.source is InventorySource.WEB and not row.hub_managed
    )  # the README's mode table
    if web_owns:
        assert target is None
    elif row.hub_managed:
        assert target == (None if row.hub_qty is None else max(0, row.hub_qty))
    elif row.back_office_qty is None:
        assert target is None
    elif row.location == DEFAULT_LOCATION:
        assert target == max(0, row.back_office_qty - withheld)
    else:
        assert target == max(0, row.back_office_qty)  # orders take from the default location


@given(
    st.lists(rows, max_size=50, unique_by=lambda r: r.stock_id),
    st.dictionaries(st.sampled_from("ABCD"), st.integers(0, 50)),
)
def test_plan_push_moves_only_differences_and_then_nothing(
    stock: list[StockRow], withheld: dict[str, int]
) -> None:
    planned = list(plan_push(stock, withheld))
    changed_ids = {sid for sid, _ in planned}
    for row in stock:
        target = target_quantity(row, withheld.get(row.sku, 0))
        assert (row.stock_id in changed_ids) == (target is not None and target != row.last_sent)
    assert all(update.quantity >= 0 for _, update in planned)
    sent = {sid: update.quantity for sid, update in planned}
    after = [r._replace(last_sent=sent.get(r.stock_id, r.last_sent)) for r in stock]
    # once the web has what was planned, nothing is planned again
    assert list(plan_push(after, withheld)) == []


@given(st.lists(st.integers(), max_size=300), st.integers(1, 60))
def test_batches_are_full_except_the_last_and_lose_nothing(items: list[int], size: int) -> None:
    chunks = list(batched(items, size))
    assert [x for chunk in chunks for x in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert len(chunks) == calls_needed(len(items), size)
