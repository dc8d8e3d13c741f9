"""Property: whatever the web orders, back-office changes and partner failures, repeated
Sync All converges to web stock = back-office stock - quantity on unposted orders, with
every order posted exactly once."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockbridge import services
from stockbridge.domain.model import SYNC_ALL, WebOrderStatus
from tests.conftest import make_harness
from tests.fakes import FakeBackOffice, FakeWebStore

SKUS = ["A", "B", "C"]
GHOST = "GHOST"  # sold on the web, unknown to the back office: its orders are refused

lines = st.lists(
    st.tuples(st.sampled_from([*SKUS, GHOST]), st.integers(1, 3)),
    min_size=1,
    max_size=3,
    unique_by=lambda line: line[0],
)
action = st.one_of(
    st.tuples(st.just("order"), lines),
    st.tuples(st.just("restock"), st.sampled_from(SKUS), st.integers(0, 40)),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("sync"), st.integers(0, 2**32 - 1)),
)


@settings(
    max_examples=int(os.environ.get("CONVERGENCE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    actions=st.lists(action, max_size=14),
    fault_rate=st.sampled_from([0.0, 0.1, 0.3]),
    honours_keys=st.booleans(),
    batch=st.integers(1, 4),
)
def test_repeated_sync_all_converges(
    actions: list[tuple[object, ...]], fault_rate: float, honours_keys: bool, batch: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        harness = make_harness(Path(tmp), f"sqlite:///{tmp}/hub.db")
        web = FakeWebStore(max_inventory_batch=batch, page_size=2)
        bo = FakeBackOffice(max_orders_per_call=batch, page_size=2, honours_keys=honours_keys)
        for sku in SKUS:
            web.add_variant(sku, 0)
            bo.set_item(sku, 20)
        web.add_variant(GHOST, 5)
        harness.add_store(web=web, back_office=bo)
        placed: list[str] = []

        for act in actions:
            match act:
                case ("order", order_lines):
                    placed.append(web.place_order(order_lines).web_id)  # type: ignore[arg-type]
                case ("restock", sku, qty):
                    bo.set_item(sku, qty)  # type: ignore[arg-type]
                case ("cancel", n):
                    if placed:
                        web.set_status(placed[n % len(placed)], WebOrderStatus.CANCELLED)  # type: ignore[operator]
                case ("sync", seed):
                    for partner in (web, bo):
                        partner.faults.rate = fault_rate
                        partner.faults.rng = random.Random(seed)  # type: ignore[arg-type]
                    services.sync(harness.hub, None, SYNC_ALL)

        for partner in (web, bo):
            partner.faults.rate = 0.0
        services.sync(harness.hub, None, SYNC_ALL)
        services.sync(harness.hub, None, SYNC_ALL)

        unposted: dict[str, int] = {}
        for web_id in placed:
            order = web.orders[web_id]
            documents = bo.documents_for(web_id)
            assert len(documents) <= 1, f"order {web_id} posted {len(documents)} times"
            refused = any(line.sku == GHOST for line in order.lines)
            if order.status.postable and not refused:
                assert len(documents) == 1, f"order {web_id} never posted"
            if order.status.postable and not documents:
                for line in order.lines:
                    unposted[line.sku] = unposted.get(line.sku, 0) + line.quantity
        for sku in SKUS:
            expected = max(0, (bo.quantity(sku) or 0) - unposted.get(sku, 0))
            assert web.quantity(sku) == expected, (sku, web.quantity(sku), expected)
        harness.hub.engine.dispose()
