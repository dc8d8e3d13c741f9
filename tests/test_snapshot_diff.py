"""diff_snapshot, the merge of a whole feed against the hub, against a dictionary model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.connectors.feed.formats import FeedFormat
from stockbridge.connectors.feed.snapshot import stage
from stockbridge.domain.model import DEFAULT_LOCATION, BackOfficeItem
from stockbridge.domain.snapshot import FeedRow, HubRow, OutOfOrder, diff_snapshot

skus = st.text(alphabet="aAbB_-9é", min_size=1, max_size=3)
locations = st.sampled_from(["default", "east", "West"])
keys = st.tuples(skus, locations)
quantities = st.integers(min_value=0, max_value=5)
prices = st.sampled_from([None, "1", "1.0", "2.50"])


@st.composite
def sides(draw: st.DrawFn) -> tuple[list[FeedRow], list[HubRow]]:
    feed_keys = sorted(draw(st.sets(keys, max_size=12)))
    hub_keys = sorted(draw(st.sets(keys, max_size=12)))
    feed = [
        FeedRow(s, loc, draw(quantities), draw(prices), None, draw(st.booleans()))
        for s, loc in feed_keys
    ]
    hub = [
        HubRow(s, loc, draw(st.none() | quantities), draw(prices), None, draw(st.booleans()))
        for s, loc in hub_keys
    ]
    return feed, hub


def model(feed: list[FeedRow], hub: list[HubRow], zero_missing: bool) -> set[tuple[str, str, int]]:
    held = {(h.sku, h.location): h for h in hub}
    seen = {(f.sku, f.location) for f in feed}
    out: set[tuple[str, str, int]] = set()
    for f in feed:
        h = held.get((f.sku, f.location))
        if f.conflicted:
            continue
        price_differs = f.price is not None and (
            h is None or h.price is None or Decimal(f.price) != Decimal(h.price)
        )
        if h is None or h.quantity != f.quantity or price_differs:
            out.add((f.sku, f.location, f.quantity))
    if zero_missing:
        for key, h in held.items():
            if key not in seen and not h.hub_managed and h.quantity != 0:
                out.add((h.sku, h.location, 0))
    return out


@given(sides(), st.booleans())
def test_the_merge_matches_a_dictionary_model(
    data: tuple[list[FeedRow], list[HubRow]], zero_missing: bool
) -> None:
    feed, hub = data
    items = list(diff_snapshot(feed, hub, zero_missing=zero_missing))
    assert {(i.sku, i.location, i.quantity) for i in items} == model(feed, hub, zero_missing)
    assert len(items) == len({(i.sku, i.location) for i in items})  # each key once


def test_prices_compare_as_numbers_and_come_out_as_decimals() -> None:
    hub = [HubRow("A", "default", 1, "9.9000", None, False)]
    assert list(diff_snapshot([FeedRow("A", "default", 1, "9.9")], hub, zero_missing=False)) == []
    (item,) = diff_snapshot([FeedRow("A", "default", 1, "9.95")], hub, zero_missing=False)
    assert item == BackOfficeItem("A", price=Decimal("9.95"), quantity=1)


@pytest.mark.parametrize("side", ["feed", "hub"])
def test_unsorted_input_stops_the_diff(side: str) -> None:
    rows = [("B", "default"), ("A", "default")]
    feed = [FeedRow(s, loc, 1) for s, loc in rows] if side == "feed" else []
    hub = [HubRow(s, loc, 1, None, None, False) for s, loc in rows] if side == "hub" else []
    with pytest.raises(OutOfOrder, match=side):
        list(diff_snapshot(feed, hub, zero_missing=True))


good_quantities = st.integers(min_value=0, max_value=3).map(str)
bad_quantities = st.sampled_from(["x", "1.5", "-1", "N/A", ""])
feed_rows = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C", "D"]), good_quantities | bad_quantities),
    min_size=1,
    max_size=10,
)
hub_stock = st.dictionaries(
    st.sampled_from(["A", "B", "C", "D", "E"]), st.none() | st.integers(0, 3), max_size=5
)


@settings(max_examples=60, deadline=None)
@given(feed_rows, hub_stock)
def test_a_staged_file_with_bad_rows_never_changes_the_skus_they_name(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, str]],
    held: dict[str, int | None],
) -> None:
    """Through ``stage`` (the CSV as a feed writes it) and the merge with ``missing=zero``:
    a SKU with any bad row, or two different quantities, keeps what the hub has; a SKU
    the file does not name goes to zero; the rest take the file's quantity."""
    path = tmp_path_factory.mktemp("feed") / "stock.csv"
    path.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in rows))
    snapshot = stage(path, FeedFormat(), name="stock.csv", max_bad_share=0.99, zero_missing=True)
    try:
        if snapshot.rejection is not None:
            assert all(not q.isdigit() for _s, q in rows)  # only an all-bad file
            return
        hub = [HubRow(s, DEFAULT_LOCATION, q, None, None, False) for s, q in sorted(held.items())]
        items = list(diff_snapshot(snapshot.rows(), hub, zero_missing=True))
    finally:
        snapshot.close()
    named = {s for s, _q in rows}
    protected = {s for s, q in rows if not q.isdigit()} | {
        s for s in named if len({int(q) for t, q in rows if t == s and q.isdigit()}) > 1
    }
    expected = {
        (s, int(q)) for s, q in rows if s not in protected and held.get(s, -1) != int(q)
    } | {(s, 0) for s, q in held.items() if s not in named and q != 0}
    assert {(i.sku, i.quantity) for i in items} == expected
    assert not {i.sku for i in items} & protected
