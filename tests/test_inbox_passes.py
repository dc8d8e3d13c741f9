"""Turning inbox events into targeted runs, pass by pass (jobs/inbox.py)."""

from __future__ import annotations

from stockbridge.jobs.inbox import process_inbox
from tests.conftest import Harness
from tests.fakes import FakeBackOffice


def _events(store_id: int, kinds: list[str]) -> list[dict[str, object]]:
    return [
        {
            "store_id": store_id,
            "source": "bigcommerce",
            "dedup_key": f"e-{n}",
            "kind": kind,
            "payload": {"resource_id": str(n)},
        }
        for n, kind in enumerate(kinds)
    ]


def test_passes_take_the_oldest_events_and_merge_them_into_runs(harness: Harness) -> None:
    store_id = harness.add_store(back_office=FakeBackOffice())
    with harness.hub.uow() as uow:
        uow.inbox.add_many(_events(store_id, ["order", "order", "order", "product", "order"]))
        uow.commit()
    passes = []
    for _ in range(3):
        with harness.hub.uow() as uow:
            passes.append(process_inbox(uow, batch=3))
            uow.commit()
    assert [p.events for p in passes] == [3, 2, 0]
    with harness.hub.uow() as uow:
        assert uow.inbox.depth() == 0
        first = uow.runs.get(passes[0].run_ids[0])
        assert first is not None and first.steps == "orders-in,orders-out"
        # The second pass needs inventory-in too: a run of its own, not the first one.
        second = uow.runs.get(passes[1].run_ids[0])
        assert second is not None and second.steps == "orders-in,orders-out,inventory-in"
    assert len(passes[0].run_ids) == len(passes[1].run_ids) == 1
    assert passes[2].run_ids == []
