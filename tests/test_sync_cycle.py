"""The four steps and Sync All against in-memory partners, run by the runner over the
in-memory unit of work (no database), SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from stockbridge.domain.model import SYNC_ALL, InventorySource, RunStatus, Step, WebOrderStatus
from stockbridge.domain.orders import PostState
from stockbridge.sync.orders_out import MAX_ACK_ATTEMPTS
from stockbridge.sync.runner import RunReport
from tests.cycle_harness import Cycle
from tests.fakes import FakeBackOffice, FakeWebStore


def seeded(
    cycle: Cycle, skus: dict[str, int], **kwargs: object
) -> tuple[int, FakeWebStore, FakeBackOffice]:
    web, bo = FakeWebStore(), FakeBackOffice(**kwargs)  # type: ignore[arg-type]
    for sku, qty in skus.items():
        web.add_variant(sku, 0)
        bo.set_item(sku, qty)
    store_id = cycle.add_store(web=web, back_office=bo)
    return store_id, web, bo


def sync_all(cycle: Cycle) -> RunReport:
    return cycle.sync(SYNC_ALL)


def test_sync_all_moves_orders_to_back_office_and_stock_to_web(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10, "B": 5})
    order = web.place_order([("A", 2), ("B", 1)])

    report = sync_all(cycle)

    assert report.status is RunStatus.SUCCEEDED, report
    assert [d.web_id for d in bo.documents] == [order.web_id]
    assert bo.quantity("A") == 8 and bo.quantity("B") == 4
    assert web.quantity("A") == 8 and web.quantity("B") == 4
    assert list(report.steps) == [s.value for s in SYNC_ALL]


def test_steps_run_in_documented_order(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    events: list[str] = []
    for obj, names in (
        (web, ("iter_orders", "push_inventory")),
        (bo, ("post_orders", "iter_items")),
    ):
        for name in names:
            original = getattr(obj, name)

            def spy(*args: object, _n: str = name, _f: object = original) -> object:
                events.append(_n)
                return _f(*args)  # type: ignore[operator]

            setattr(obj, name, spy)
    web.place_order([("A", 1)])
    sync_all(cycle)
    first = {name: events.index(name) for name in set(events)}
    assert (
        first["iter_orders"] < first["post_orders"] < first["iter_items"] < first["push_inventory"]
    )


def test_second_run_pushes_only_what_changed(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {f"S{i}": i for i in range(120)})
    sync_all(cycle)
    assert sum(len(b) for b in web.batches) == 120
    web.batches.clear()
    bo.set_item("S7", 70)
    report = sync_all(cycle)
    assert [[(u.sku, u.quantity) for u in b] for b in web.batches] == [[("S7", 70)]]
    assert report.steps["inventory-out"]["changed"] == 1


def test_push_uses_fewest_batches_and_never_exceeds_maximum(cycle: Cycle) -> None:
    web, bo = FakeWebStore(max_inventory_batch=40), FakeBackOffice()
    for i in range(101):
        web.add_variant(f"S{i}", 0)
        bo.set_item(f"S{i}", 1000 + i)
    cycle.add_store(web=web, back_office=bo)
    sync_all(cycle)
    assert [len(b) for b in web.batches] == [40, 40, 21]


def test_crash_after_back_office_accepted_does_not_post_twice(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    order = web.place_order([("A", 3)])
    bo.faults.plan("post_orders", "crash")

    first = sync_all(cycle)
    assert first.status is RunStatus.FAILED
    assert "HubCrash" in (first.error or "")
    assert (
        len(bo.documents_for(order.web_id)) == 1
    )  # the back office has it; the hub did not record it

    second = sync_all(cycle)
    assert second.status is RunStatus.SUCCEEDED, second
    assert len(bo.documents_for(order.web_id)) == 1
    assert bo.calls["find_posted"] >= 1
    assert web.quantity("A") == 7


def test_dropped_connection_after_accept_is_looked_up_not_reposted(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    orders = [web.place_order([("A", 1)]) for _ in range(3)]
    bo.faults.plan("post_orders", "after")  # applied, then the connection dropped

    report = sync_all(cycle)

    assert report.status is RunStatus.SUCCEEDED
    assert bo.calls["post_orders"] == 1 and bo.calls["find_posted"] == 1
    assert all(len(bo.documents_for(o.web_id)) == 1 for o in orders)
    assert web.quantity("A") == 7


def test_unknown_outcome_stays_uncertain_until_looked_up(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    orders = [web.place_order([("A", 1)]) for _ in range(3)]
    bo.faults.plan("post_orders", "after")
    bo.faults.plan("find_posted", "before")  # and the look-up fails too

    first = sync_all(cycle)
    assert first.status is RunStatus.PARTIAL
    assert {e.key for e in first.errors} == {f"order {o.number}" for o in orders}
    # The back office did take them (7 left), but the hub cannot know yet: it withholds
    # them too. Under-publishing for one run is the safe side; overselling is not.
    assert bo.quantity("A") == 7 and web.quantity("A") == 4

    second = sync_all(cycle)
    assert second.status is RunStatus.SUCCEEDED
    assert bo.calls["post_orders"] == 1  # found by the look-up, never sent again
    assert all(len(bo.documents_for(o.web_id)) == 1 for o in orders)
    assert web.quantity("A") == 7


def test_refused_order_is_withheld_and_reported_with_partner_message(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    web.add_variant("GHOST", 0)  # on the web, unknown to the back office
    good = web.place_order([("A", 2)])
    bad = web.place_order([("A", 3), ("GHOST", 1)])

    report = sync_all(cycle)

    assert report.status is RunStatus.PARTIAL
    assert len(bo.documents_for(good.web_id)) == 1 and not bo.documents_for(bad.web_id)
    assert any("GHOST" in e.message and e.code == "2500" for e in report.errors)
    # back office 8 after the good order; the refused order's 3 are still withheld
    assert web.quantity("A") == 5

    bo.set_item("GHOST", 4)
    report = sync_all(cycle)
    assert report.status is RunStatus.SUCCEEDED
    assert len(bo.documents_for(bad.web_id)) == 1
    assert web.quantity("A") == 5 and bo.quantity("A") == 5


def test_failed_orders_out_does_not_publish_stock_the_orders_took(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    sync_all(cycle)
    assert web.quantity("A") == 10
    web.place_order([("A", 4)])
    bo.faults.plan("post_orders", "before", "before", "before")

    report = sync_all(cycle)

    assert report.steps["orders-out"]["failed"] == 1
    assert bo.quantity("A") == 10  # not posted
    assert web.quantity("A") == 6  # 10 - 4 withheld, not 10


def test_orders_posted_but_not_yet_read_back_stay_withheld(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    sync_all(cycle)
    web.place_order([("A", 4)])
    bo.faults.plan("iter_items", "before", "before", "before")  # inventory-in fails

    report = sync_all(cycle)

    assert report.status is RunStatus.FAILED
    assert bo.quantity("A") == 6  # posted
    assert web.quantity("A") == 6  # hub still holds 10 from the back office, withholds 4


def test_incomplete_orders_are_never_taken_in(cycle: Cycle) -> None:
    store_id, web, bo = seeded(cycle, {"A": 10})
    order = web.place_order([("A", 1)], status=WebOrderStatus.INCOMPLETE)
    sync_all(cycle)
    assert bo.documents == []
    with cycle.uow() as uow:
        assert uow.orders.next_to_post(store_id, 0, 10) == []
    assert cycle.order_state(store_id, order.web_id) is None


def test_cancelled_before_posting_is_not_posted(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    order = web.place_order([("A", 1)])
    cycle.sync((Step.ORDERS_IN,))
    web.set_status(order.web_id, WebOrderStatus.CANCELLED)
    sync_all(cycle)
    assert bo.documents == []


def test_cursor_advances_only_after_commit(cycle: Cycle) -> None:
    store_id, web, _bo = seeded(cycle, {"A": 100})
    web.page_size = 2
    for _ in range(5):
        web.place_order([("A", 1)])
    web.faults.plan("iter_orders", None, None, "before")  # type: ignore[arg-type]
    report = cycle.sync((Step.ORDERS_IN,))
    assert report.status is RunStatus.FAILED
    with cycle.uow() as uow:
        pending = uow.orders.next_to_post(store_id, 0, 100)
    assert len(pending) == 4  # two full pages committed before the failures
    report = cycle.sync((Step.ORDERS_IN,))
    assert report.status is RunStatus.SUCCEEDED
    with cycle.uow() as uow:
        assert len(uow.orders.next_to_post(store_id, 0, 100)) == 5


def test_a_step_never_repeats_a_call_the_connector_gave_up_on(cycle: Cycle) -> None:
    """Retries live in the connector's transport (bounded there); a transient error that
    reaches a step is recorded, and the next run tries again."""
    _, web, _bo = seeded(cycle, {"A": 3})
    web.faults.plan("push_inventory", "before")
    report = sync_all(cycle)
    assert report.status is RunStatus.FAILED
    assert "503" in (report.error or "")
    assert web.calls["push_inventory"] == 1
    report = sync_all(cycle)
    assert report.status is RunStatus.SUCCEEDED
    assert web.calls["push_inventory"] == 2 and web.quantity("A") == 3


def test_a_post_with_an_unknown_outcome_is_looked_up_not_sent_again(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    order = web.place_order([("A", 1)])
    bo.faults.plan("post_orders", "before")  # the back office did not take it

    first = sync_all(cycle)
    assert first.status is RunStatus.PARTIAL
    assert bo.calls["post_orders"] == 1 and bo.calls["find_posted"] == 1
    assert bo.documents_for(order.web_id) == []

    second = sync_all(cycle)  # looked up again first, then posted
    assert second.status is RunStatus.SUCCEEDED
    assert bo.calls["find_posted"] == 2 and bo.calls["post_orders"] == 2
    assert len(bo.documents_for(order.web_id)) == 1


def test_hub_managed_quantities_survive_manual_sync_and_follow_orders(cycle: Cycle) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("PRE", 0)
    bo.set_item("PRE", 0)
    store_id = cycle.add_store(source=InventorySource.WEB, web=web, back_office=bo)
    cycle.set_hub_managed(store_id, "PRE", 25)
    sync_all(cycle)
    assert web.quantity("PRE") == 25
    web.place_order([("PRE", 5)])
    bo.set_item("PRE", 0)
    sync_all(cycle)
    assert [hub for _bo, _web, hub in cycle.levels(store_id, "PRE")] == [20]
    assert web.quantity("PRE") == 20


@pytest.mark.parametrize("source", [InventorySource.WEB, InventorySource.ERP_VIA_WEB])
def test_web_master_modes_push_nothing_but_hub_managed(
    cycle: Cycle, source: InventorySource
) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("A", 7)
    bo.set_item("A", 100)
    store_id = cycle.add_store(source=source, web=web, back_office=bo)
    report = sync_all(cycle)
    assert report.status is RunStatus.SUCCEEDED
    assert web.batches == [] and web.quantity("A") == 7
    assert [(web_qty, bo_qty) for bo_qty, web_qty, _hub in cycle.levels(store_id, "A")] == [
        (7, 100)
    ]


def test_api_mode_pushes_hub_quantities_less_unposted(cycle: Cycle) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    for sku in ("A", "B"):
        web.add_variant(sku, 0)
    web.add_variant("GHOST", 5)  # sold on the web only: the back office refuses its orders
    bo.set_item("A", 12)
    bo.set_item("B", 8)
    cycle.add_store(source=InventorySource.API, web=web, back_office=bo)
    refused = web.place_order([("A", 2), ("GHOST", 1)])
    posted = web.place_order([("B", 3)])
    sync_all(cycle)
    assert bo.documents_for(refused.web_id) == [] and len(bo.documents_for(posted.web_id)) == 1
    # A: the hub's 12 less the 2 on the refused (still unposted) order. B: the posted
    # order is in the back office's 5 already, so nothing more is withheld.
    assert (web.quantity("A"), web.quantity("B")) == (10, 5)
    bo.set_item("A", 20)
    sync_all(cycle)
    assert web.quantity("A") == 18  # still withheld while the order stays unposted


def test_newer_copy_wins_over_a_stale_one(cycle: Cycle) -> None:
    store_id, web, _bo = seeded(cycle, {"A": 10})
    order = web.place_order([("A", 1)])
    cycle.sync((Step.ORDERS_IN,))
    newer = web.set_status(order.web_id, WebOrderStatus.CANCELLED)
    with cycle.uow() as uow:
        assert uow.orders.apply_page(store_id, [newer]) == 1
        assert uow.orders.apply_page(store_id, [order]) == 0  # the stale copy arrives late
        uow.commit()
    state = cycle.order_state(store_id, order.web_id)
    assert state is not None
    assert (state.status, state.post_state) == (WebOrderStatus.CANCELLED, PostState.NOT_POSTABLE)


def test_run_with_no_partners_is_recorded_as_skipped(cycle: Cycle) -> None:
    cycle.add_store()
    report = sync_all(cycle)
    assert report.status is RunStatus.SUCCEEDED
    assert {e["status"] for e in report.steps.values()} == {"skipped"}


def test_web_side_stock_moves_are_set_right_again(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 20})
    order = web.place_order([("A", 1)])
    sync_all(cycle)
    assert (bo.quantity("A"), web.quantity("A")) == (19, 19)
    web.set_status(order.web_id, WebOrderStatus.CANCELLED)  # the web gives its stock back
    assert web.quantity("A") == 20
    sync_all(cycle)
    # The receipt stands in the back office (the master): the web is set back to 19.
    assert len(bo.documents_for(order.web_id)) == 1
    assert web.quantity("A") == 19


@pytest.mark.parametrize(("fault", "documents"), [("after", 1), ("before", 0)])
def test_an_uncertain_order_cancelled_later_is_looked_up_not_posted(
    cycle: Cycle, fault: str, documents: int
) -> None:
    store_id, web, bo = seeded(cycle, {"A": 10})
    order = web.place_order([("A", 1)])
    bo.faults.plan("post_orders", fault)  # applied (or not), then the connection dropped
    bo.faults.plan("find_posted", "before")  # and the look-up fails this run
    sync_all(cycle)
    web.set_status(order.web_id, WebOrderStatus.CANCELLED)
    sync_all(cycle)
    assert len(bo.documents_for(order.web_id)) == documents  # found if it was created
    assert bo.calls["post_orders"] == 1  # never sent again after the cancellation
    state = cycle.order_state(store_id, order.web_id)
    assert state is not None
    assert state.post_state is (PostState.POSTED if documents else PostState.NOT_POSTABLE)


def test_a_failed_status_write_back_is_tried_again_by_later_runs(cycle: Cycle) -> None:
    """Posting is never undone by the web store refusing the status write-back; the hub
    tells it again next run (a bounded number of times) and never twice once taken."""
    _, web, bo = seeded(cycle, {"A": 10})
    orders = [web.place_order([("A", 1)]) for _ in range(3)]
    archived = orders[2].web_id
    web.refuse_ack.add(archived)
    web.faults.plan("acknowledge_orders", "before")  # the whole call fails once

    first = sync_all(cycle)
    assert first.status is RunStatus.PARTIAL, first
    assert len(bo.documents) == 3 and web.acknowledged == []
    assert any(e.key == "status write-back" for e in first.errors)

    second = sync_all(cycle)
    assert sorted(web.acknowledged) == sorted(o.web_id for o in orders[:2])
    assert [e.key for e in second.errors] == [f"order {archived} status"]

    for _ in range(5):
        sync_all(cycle)
    assert sorted(web.acknowledged) == sorted(o.web_id for o in orders[:2])  # once each
    assert len(bo.documents) == 3  # and nothing posted twice
    # The archived order was tried MAX_ACK_ATTEMPTS times (the failed call counts), then
    # left alone.
    assert web.calls["acknowledge_orders"] == MAX_ACK_ATTEMPTS
    assert sync_all(cycle).status is RunStatus.SUCCEEDED


def test_orders_out_reports_its_total_up_front_for_progress(cycle: Cycle) -> None:
    _, web, bo = seeded(cycle, {"A": 10})
    for _ in range(3):
        web.place_order([("A", 1)])
    web.place_order([("A", 1)], status=WebOrderStatus.CANCELLED)

    report = sync_all(cycle)

    step = report.steps["orders-out"]
    assert step["total"] == 3 and step["done"] == 3 and len(bo.documents) == 3


def test_a_write_back_never_undoes_a_status_the_merchant_set_since(cycle: Cycle) -> None:
    _, web, _bo = seeded(cycle, {"A": 10})
    shipped, waiting = (web.place_order([("A", 1)]) for _ in range(2))
    web.faults.plan("acknowledge_orders", "before")
    sync_all(cycle)  # posted; the write-back failed
    web.set_status(shipped.web_id, WebOrderStatus.FULFILLED)  # the merchant shipped one

    sync_all(cycle)

    assert web.acknowledged == [waiting.web_id]
    assert web.orders[shipped.web_id].status is WebOrderStatus.FULFILLED
