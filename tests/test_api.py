"""The REST API end to end over HTTP: auth, store isolation, sync triggers, inventory
push with every kind of bad input, metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.db.models import IdempotencyRecord, StockLevel, SyncRun, Variant
from stockbridge.domain.model import InventorySource
from tests.conftest import BOTH_BACKENDS, Harness
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service


@pytest.fixture
def running(service_harness: Harness, backend: str) -> Iterator[Running]:
    r = start_service(service_harness.hub, backend)
    yield r
    r.stop()


@pytest.fixture
def two_stores(service_harness: Harness) -> tuple[FakeWebStore, FakeWebStore]:
    webs = (FakeWebStore(), FakeWebStore())
    for name, web in zip(("alpha", "beta"), webs, strict=True):
        for sku in ("A", "B"):
            web.add_variant(sku, 0)
        bo = FakeBackOffice()
        bo.set_item("A", 5)
        bo.set_item("B", 6)
        service_harness.add_store(name, source=InventorySource.API, web=web, back_office=bo)
    services.sync(service_harness.hub, "alpha")
    services.sync(service_harness.hub, "beta")
    return webs


def test_no_token_or_a_bad_one_is_401(running: Running, two_stores: object) -> None:
    with running.client() as anon:
        assert anon.get("/api/v1/stores").status_code == 401
        assert (
            anon.get("/api/v1/stores", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert (
            anon.get("/api/v1/stores", headers={"Authorization": "Basic eA=="}).status_code == 401
        )


def test_a_store_token_never_reaches_another_store(running: Running, two_stores: object) -> None:
    alpha = running.token("alpha")
    with running.client(alpha) as api:
        assert [s["name"] for s in api.get("/api/v1/stores").json()] == ["alpha"]
        assert api.get("/api/v1/stores/alpha").status_code == 200
        for method, path in [
            ("GET", "/api/v1/stores/beta"),
            ("GET", "/api/v1/stores/beta/runs"),
            ("GET", "/api/v1/stores/beta/products/A"),
            ("POST", "/api/v1/stores/beta/sync"),
            ("GET", "/api/v1/stores/beta/runs/1"),
        ]:
            response = api.request(method, path)
            assert response.status_code == 404, (method, path)
        pushed = api.post(
            "/api/v1/stores/beta/inventory",
            json={"items": [{"sku": "A", "quantity": 1}]},
            headers={"Idempotency-Key": "k1"},
        )
        assert pushed.status_code == 404
    with running.client(running.token()) as operator:
        assert [s["name"] for s in operator.get("/api/v1/stores").json()] == ["alpha", "beta"]


@BOTH_BACKENDS
def test_trigger_sync_answers_at_once_and_the_worker_runs_it(
    running: Running, two_stores: object
) -> None:
    with running.client(running.token("alpha")) as api:
        response = api.post("/api/v1/stores/alpha/sync", json={"steps": "all"})
        assert response.status_code == 202
        run_id = response.json()["run_id"]
        assert running.wait_run(run_id).status == "succeeded"
        detail = api.get(f"/api/v1/stores/alpha/runs/{run_id}").json()
        assert detail["trigger"] == "manual" and detail["item_errors"] == []
        assert (
            api.post("/api/v1/stores/alpha/sync", json={"steps": "everything"}).status_code == 422
        )
        product = api.get("/api/v1/stores/alpha/products/A").json()
        assert product["stock"][0]["back_office"] == 5 and product["source_of_truth"] == "erp"
        assert api.get("/api/v1/stores/alpha/products/NOPE").status_code == 404


@BOTH_BACKENDS
def test_inventory_push_applies_once_and_reaches_the_web(
    running: Running, two_stores: tuple[FakeWebStore, FakeWebStore]
) -> None:
    web = two_stores[0]
    with running.client(running.token("alpha")) as api:
        body = {"items": [{"sku": "A", "quantity": 42}, {"sku": "B", "quantity": 0}]}
        first = api.post(
            "/api/v1/stores/alpha/inventory", json=body, headers={"Idempotency-Key": "erp-1"}
        )
        assert first.status_code == 202, first.text
        running.wait_run(first.json()["run_id"])
        assert (web.quantity("A"), web.quantity("B")) == (42, 0)
        pushes = web.calls["push_inventory"]

        again = api.post(
            "/api/v1/stores/alpha/inventory", json=body, headers={"Idempotency-Key": "erp-1"}
        )
        assert again.status_code == 202 and again.json() == first.json()
        assert web.calls["push_inventory"] == pushes  # applied nothing

        other = {"items": [{"sku": "A", "quantity": 1}]}
        reused = api.post(
            "/api/v1/stores/alpha/inventory", json=other, headers={"Idempotency-Key": "erp-1"}
        )
        assert reused.status_code == 409


BAD_BODIES = [
    ("{not json", "JSON"),
    (json.dumps({"items": []}), "items"),
    (json.dumps({"items": [{"sku": "A", "quantity": "5"}]}), "quantity"),
    (json.dumps({"items": [{"sku": "A", "quantity": True}]}), "quantity"),
    (json.dumps({"items": [{"sku": "A", "quantity": 1.5}]}), "quantity"),
    (json.dumps({"items": [{"sku": "A", "quantity": -1}]}), "quantity"),
    (json.dumps({"items": [{"sku": "A", "quantity": 10**12}]}), "quantity"),
    (json.dumps({"items": [{"sku": "", "quantity": 1}]}), "sku"),
    (json.dumps({"items": [{"quantity": 1}]}), "sku"),
    (json.dumps({"items": [{"sku": "A", "quantity": 1, "extra": 1}]}), "extra"),
    (
        json.dumps({"items": [{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 2}]}),
        "once per location",
    ),
    (
        json.dumps({"items": [{"sku": "A", "quantity": 1}, {"sku": "GHOST", "quantity": 2}]}),
        "unknown SKUs",
    ),
    (json.dumps([1, 2]), "body"),
    (json.dumps({"items": [{"sku": "A", "quantity": 1, "location": "mars"}]}), "unknown locations"),
]


def applied_state(hub: Hub) -> tuple[object, ...]:
    """Everything a push could change: each stock row of both stores (back office, web,
    hub quantities), the idempotency records, the runs and the hub's variants."""
    with hub.uow() as uow:
        session = uow.session
        stock = session.execute(
            select(
                Variant.store_id,
                Variant.sku,
                StockLevel.location,
                StockLevel.back_office_qty,
                StockLevel.web_qty,
                StockLevel.hub_qty,
            )
            .join(StockLevel, StockLevel.variant_id == Variant.id)
            .order_by(Variant.store_id, Variant.sku, StockLevel.location)
        ).all()
        keys = session.execute(
            select(IdempotencyRecord.store_id, IdempotencyRecord.key).order_by(IdempotencyRecord.id)
        ).all()
        runs = session.execute(
            select(SyncRun.id, SyncRun.status, SyncRun.steps).order_by(SyncRun.id)
        ).all()
    return tuple(stock), tuple(keys), tuple(runs)


@pytest.mark.parametrize(("raw", "message"), BAD_BODIES)
def test_bad_pushes_are_422_and_apply_nothing(
    running: Running, two_stores: tuple[FakeWebStore, FakeWebStore], raw: str, message: str
) -> None:
    web = two_stores[0]
    before = applied_state(running.hub)
    pushes = web.calls["push_inventory"]
    key = f"bad-{hash(raw)}"
    with running.client(running.token("alpha")) as api:
        response = api.post(
            "/api/v1/stores/alpha/inventory",
            content=raw,
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert message in response.text
        # Nothing applied: no stock changed, no answer remembered under the key, no run
        # requested, nothing sent to the web store.
        assert applied_state(running.hub) == before
        assert web.calls["push_inventory"] == pushes
        # The key stays free: a good body under it is applied now, not refused as a replay.
        good = api.post(
            "/api/v1/stores/alpha/inventory",
            json={"items": [{"sku": "A", "quantity": 7}]},
            headers={"Idempotency-Key": key},
        )
        assert good.status_code == 202, good.text
        running.wait_run(good.json()["run_id"])
    assert web.quantity("A") == 7


def test_unknown_skus_are_kept_as_rejected_input(running: Running, two_stores: object) -> None:
    with running.client(running.token("alpha")) as api:
        api.post(
            "/api/v1/stores/alpha/inventory",
            json={"items": [{"sku": "GHOST", "quantity": 2}]},
            headers={"Idempotency-Key": "g1"},
        )
        rejected = api.get("/api/v1/stores/alpha/rejected").json()
        assert rejected[0]["source"] == "api" and "GHOST" in rejected[0]["reason"]


def test_push_needs_an_idempotency_key_api_mode_and_a_sane_size(
    running: Running, two_stores: object, service_harness: Harness
) -> None:
    with running.client(running.token("alpha")) as api:
        body = {"items": [{"sku": "A", "quantity": 1}]}
        assert api.post("/api/v1/stores/alpha/inventory", json=body).status_code == 422
        huge = {"items": [{"sku": "A" * 200, "quantity": 1}] * 6000}
        too_big = api.post(
            "/api/v1/stores/alpha/inventory", json=huge, headers={"Idempotency-Key": "h"}
        )
        assert too_big.status_code == 413
        services.update_store(
            service_harness.hub, "alpha", inventory_source=InventorySource.BACK_OFFICE
        )
        wrong_mode = api.post(
            "/api/v1/stores/alpha/inventory", json=body, headers={"Idempotency-Key": "m"}
        )
        assert wrong_mode.status_code == 409 and "api mode" in wrong_mode.text


@BOTH_BACKENDS
def test_metrics_and_openapi(running: Running, two_stores: object, backend: str) -> None:
    with running.client() as anon:
        text = anon.get("/metrics").text
        assert "stockbridge_inbox_depth" in text and "stockbridge_sync_lag_max_seconds" in text
        # Scaled mode: the job queue's depth, its oldest job, dead workers' jobs, workers.
        job_gauges = (
            "stockbridge_jobs_oldest_waiting_seconds",
            "stockbridge_jobs_stalled 0.0",
            "stockbridge_workers_alive 1.0",
        )
        assert all((g in text) == (backend == "scaled") for g in job_gauges), text
        schema = anon.get("/openapi.json").json()
        assert "/api/v1/stores/{store}/inventory" in schema["paths"]
