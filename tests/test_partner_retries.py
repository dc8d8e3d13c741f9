"""One retry layer: a partner that keeps failing gets at most the transport's bound of
tries per call (never that bound again from the step above), and the run records the
partner's own message. Counted at the sandboxes."""

from __future__ import annotations

from pathlib import Path

from stockbridge import services
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.qbo_support import (
    Qbo,
    connect_store,
    make_hub,
    qbo_sandbox,  # noqa: F401  (the qbo fixture)
)

INVENTORY_PUT = "PUT /v3/inventory/adjustments/absolute"


def test_a_store_that_always_answers_503_gets_the_bound_per_batch(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    skus = [f"S{i}" for i in range(5)]
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus]
    )
    bo = FakeBackOffice()
    for sku in skus:
        bo.set_item(sku, 7)
    store_id = sqlite_harness.add_store(back_office=bo)
    with sqlite_harness.hub.uow() as uow:
        web_id = uow.stores.connect(
            store_id, role="web", kind="bigcommerce", settings={}, credentials=None
        ).id
        uow.commit()
    web = bc_store.connector()
    partners = sqlite_harness.partners[store_id]
    sqlite_harness.partners[store_id] = type(partners)(
        web, web_id, bo, partners.back_office_connection_id
    )
    services.sync(sqlite_harness.hub, None, (Step.INVENTORY_IN,))  # the catalog, no faults
    bc_store.faults(rate=1.0, kinds=["5xx"])  # every call from now on: 503

    report = services.sync(sqlite_harness.hub, None, (Step.INVENTORY_OUT,))

    bound = web.http.retry.attempts
    assert bc_store.counters()["calls"][INVENTORY_PUT] == bound  # one batch, the bound
    assert report.status is RunStatus.FAILED
    assert "503 Service Unavailable" in (report.error or "")  # the partner's own words
    bc_store.faults(rate=0.0)
    assert services.sync(sqlite_harness.hub, None, (Step.INVENTORY_OUT,)).status is (
        RunStatus.SUCCEEDED
    )
    assert bc_store.counters()["calls"][INVENTORY_PUT] == bound + 1
    assert {sku: bc_store.stock()[sku] for sku in skus} == dict.fromkeys(skus, 7)


def test_a_back_office_that_always_answers_503_gets_the_bound_then_a_look_up(
    tmp_path: Path, qbo: Qbo
) -> None:
    qbo.items({"sku": "A", "qty": 50})
    web = FakeWebStore()
    web.add_variant("A", 0)
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo)
    placed = [web.place_order([("A", 1)]) for _ in range(3)]
    qbo.faults({"path": "batch", "kind": "error", "times": 100})

    report = services.sync(hub, None, SYNC_ALL)

    calls = qbo.counters()["calls"]
    assert calls["batch"] == hub.retry.attempts  # the one batch: the bound, not more
    assert report.status is RunStatus.PARTIAL
    assert {e.key for e in report.errors} == {f"order {o.number}" for o in placed}
    assert all("An application error has occurred" in e.message for e in report.errors)
    qbo.faults()
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    assert qbo.receipts() == {o.number: 1 for o in placed}  # looked up, then posted once
