"""Per store, runs never interleave; duplicate triggers merge into a queued run."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime

from stockbridge import services
from stockbridge.domain.model import (
    SYNC_ALL,
    BatchResult,
    Page,
    RunStatus,
    Step,
    StockUpdate,
    Trigger,
    WebOrder,
)
from tests.conftest import Harness
from tests.fakes import FakeBackOffice, FakeWebStore


class SlowWebStore(FakeWebStore):
    """Records which thread made each call, and sleeps so that overlaps would show."""

    def __init__(self) -> None:
        super().__init__(max_inventory_batch=5)
        self.trace: list[str] = []

    def _note(self) -> None:
        self.trace.append(threading.current_thread().name)
        time.sleep(0.01)

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        self._note()
        yield from super().iter_orders(since)

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        self._note()
        return super().push_inventory(updates)


def switches(trace: list[str]) -> int:
    return sum(1 for a, b in itertools.pairwise(trace) if a != b)


def test_two_sync_all_at_once_never_interleave(harness: Harness) -> None:
    web, bo = SlowWebStore(), FakeBackOffice()
    for i in range(40):
        web.add_variant(f"S{i}", 0)
        bo.set_item(f"S{i}", i + 1)
    harness.add_store(web=web, back_office=bo)
    reports: dict[str, services.RunReport] = {}

    def run(name: str) -> None:
        reports[name] = services.sync(harness.hub, None, SYNC_ALL)

    threads = [threading.Thread(target=run, args=(n,), name=n) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert set(reports) == {"first", "second"}
    assert all(r.status is RunStatus.SUCCEEDED for r in reports.values())
    assert switches(web.trace) <= 1, web.trace  # one run's calls, then the other's
    assert sum(len(b) for b in web.batches) == 40  # the second run found nothing to push
    with harness.hub.uow() as uow:
        runs = uow.runs.history(None)
        spans = sorted((r.started_at, r.finished_at) for r in runs if r.started_at)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start is not None and end <= start


def test_duplicate_trigger_merges_into_queued_run(harness: Harness) -> None:
    store_id = harness.add_store(web=FakeWebStore(), back_office=FakeBackOffice())
    runner = harness.hub.runner()
    first, merged_first = runner.request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    again, merged_again = runner.request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    one_step, merged_step = runner.request(store_id, (Step.INVENTORY_OUT,), Trigger.SCHEDULE)
    manual, merged_manual = runner.request(store_id, SYNC_ALL, Trigger.MANUAL)
    assert (merged_first, merged_again, merged_step, merged_manual) == (False, True, True, False)
    assert first == again == one_step != manual
    runner.execute(first)
    with harness.hub.uow() as uow:
        run = uow.runs.get(first)
        assert run is not None and run.merged_requests == 2
    # once the queued run has started, a new trigger queues a new run
    later, merged_later = runner.request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    assert not merged_later and later not in (first, manual)


def test_a_run_waits_for_the_lease_of_a_live_holder(harness: Harness) -> None:
    store_id = harness.add_store(web=FakeWebStore(), back_office=FakeBackOffice())
    holder = harness.hub.runner()
    run_a, _ = holder.request(store_id, SYNC_ALL, Trigger.MANUAL)
    with harness.hub.uow() as uow:
        assert uow.runs.acquire_lease(store_id, run_a, holder.holder, 30)
        uow.commit()
    other = harness.hub.runner()
    other.poll_seconds = 0.01
    run_b, _ = other.request(store_id, (Step.ORDERS_IN,), Trigger.MANUAL)
    try:
        other.execute(run_b, wait_seconds=0.2)
    except TimeoutError:
        pass
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("a run executed while another holder had the store's lease")
    with harness.hub.uow() as uow:
        run = uow.runs.get(run_b)
        assert run is not None and run.status == "queued"


def test_a_run_left_by_a_dead_holder_is_resumed(harness: Harness) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("A", 0)
    bo.set_item("A", 5)
    store_id = harness.add_store(web=web, back_office=bo)
    dead = harness.hub.runner()
    run_id, _ = dead.request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    with harness.hub.uow() as uow:  # it took the lease and started, then died
        assert uow.runs.acquire_lease(store_id, run_id, dead.holder, -1)  # already expired
        assert uow.runs.claim(run_id)
        uow.commit()
    report = harness.hub.runner().execute(run_id, wait_seconds=5)
    assert report.status is RunStatus.SUCCEEDED
    assert web.quantity("A") == 5
