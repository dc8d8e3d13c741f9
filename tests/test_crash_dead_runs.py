"""A run whose process died is never left "running": it is marked ``interrupted`` with the
time, and a later run resumes the steps it had not finished."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from stockbridge import accounts, services
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step, Trigger
from stockbridge.sync.recovery import resume_steps
from tests.conftest import Harness
from tests.crash_support import KillPoint, World
from tests.dashboard_helpers import log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import start_service

DEAD_HOLDER = "elsewhere:1:1:dead"  # another machine: only the lease's expiry tells


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stockbridge.cli", *args],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_killed_sync_all_shows_interrupted_and_the_next_run_resumes_it(tmp_path: Path) -> None:
    world = World(tmp_path, random.Random(7))
    try:
        services.sync(world.hub, "shop")
        world.place_orders(5)
        # kill -9 right after orders-out marked its first batch uncertain
        world.arm_commit(KillPoint("commit", "orders", 1, "after"))
        process = world.launch("sync", "all")
        assert process.wait(timeout=120) == -9
        listed = json.loads(_cli(world, "runs", "--json").stdout)
        dead = listed[0]
        assert dead["status"] == "interrupted" and dead["finished_at"] is not None
        assert "process" in dead["error"]
        assert json.loads(_cli(world, "status", "--json").stdout)[0]["active_runs"] == []
        # The next run asked only for inventory-out; it resumes what the dead run left.
        world.arm_commit(None)
        report = services.sync(world.hub, "shop", (Step.INVENTORY_OUT,))
        assert report.status is RunStatus.SUCCEEDED
        assert set(report.steps) == set(SYNC_ALL)  # orders-in was done; re-read before a push
        detail = services.run_detail(world.hub, dead["id"])
        assert detail is not None and detail.resumed_by == report.run_id
        world.check_finished()
    finally:
        world.close()


def test_a_dead_holders_run_is_interrupted_and_a_live_one_is_not(harness: Harness) -> None:
    store_id = harness.add_store(web=FakeWebStore(), back_office=FakeBackOffice())
    runner = harness.hub.runner()
    run_id, _ = runner.request(store_id, SYNC_ALL, Trigger.MANUAL)
    with harness.hub.uow() as uow:  # a live holder: lease held and renewed
        assert uow.runs.acquire_lease(store_id, run_id, DEAD_HOLDER, 60)
        assert uow.runs.claim(run_id)
        uow.commit()
    assert runner.reap_dead_runs() == 0
    with harness.hub.uow() as uow:
        run = uow.runs.get(run_id)
        assert run is not None and run.status == "running"
        assert uow.runs.renew_lease(store_id, run_id, DEAD_HOLDER, -1)  # it stopped renewing
        uow.commit()
    before = datetime.now(UTC)
    assert runner.reap_dead_runs() == 1
    with harness.hub.uow() as uow:
        run = uow.runs.get(run_id)
        assert run is not None and run.status == "interrupted"
        assert run.finished_at is not None and run.finished_at >= before - timedelta(seconds=1)
        assert uow.runs.lease(store_id) == (None, None, None)  # freed for the next run


def test_the_next_run_takes_over_a_dead_run_and_does_its_remaining_steps(
    harness: Harness,
) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("A", 0)
    bo.set_item("A", 9)
    store_id = harness.add_store(web=web, back_office=bo)
    order = web.place_order([("A", 2)])
    runner = harness.hub.runner()
    dead_id, _ = runner.request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    with harness.hub.uow() as uow:  # it took orders in, then died inside orders-out
        assert uow.runs.acquire_lease(store_id, dead_id, DEAD_HOLDER, -1)
        assert uow.runs.claim(dead_id)
        uow.runs.set_progress(
            dead_id, {"orders-in": {"status": "succeeded"}, "orders-out": {"status": "running"}}
        )
        uow.commit()
    report = services.sync(harness.hub, None, (Step.INVENTORY_IN,))
    assert [s for s in SYNC_ALL if s.value in report.steps] == list(SYNC_ALL)
    assert len(bo.documents_for(order.web_id)) == 1  # orders-out was resumed
    assert web.quantity("A") == 7
    with harness.hub.uow() as uow:
        dead = uow.runs.get(dead_id)
        assert dead is not None and dead.status == "interrupted"
        assert dead.resumed_by == report.run_id


def test_a_resumed_push_reads_new_web_orders_first() -> None:
    assert resume_steps((), (Step.INVENTORY_OUT,)) == (Step.ORDERS_IN, Step.INVENTORY_OUT)
    assert resume_steps((Step.INVENTORY_IN,), (Step.ORDERS_OUT,)) == (
        Step.ORDERS_OUT,
        Step.INVENTORY_IN,
    )


def test_interrupted_is_shown_in_the_api_and_the_dashboard(sqlite_harness: Harness) -> None:
    hub = sqlite_harness.hub
    store_id = sqlite_harness.add_store(web=FakeWebStore(), back_office=FakeBackOffice())
    runner = hub.runner()
    dead_id, _ = runner.request(store_id, SYNC_ALL, Trigger.MANUAL)
    with hub.uow() as uow:
        assert uow.runs.acquire_lease(store_id, dead_id, DEAD_HOLDER, -1)
        assert uow.runs.claim(dead_id)
        uow.commit()
    name = services.run_history(hub, None, 1)[0].store
    assert name is not None
    next_run = services.sync(hub, name)
    accounts.add_user(hub, "ann", "correct horse battery", stores=[name])
    running = start_service(hub)
    try:
        token = services.create_token(hub, name, operator=False)
        api = httpx.get(
            f"{running.server.url}/api/v1/stores/{name}/runs",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        shown = {run["id"]: run for run in (api["runs"] if isinstance(api, dict) else api)}
        assert shown[dead_id]["status"] == "interrupted"
        assert shown[dead_id]["resumed_by"] == next_run.run_id
        with running.client() as browser:
            log_in(browser, "ann", "correct horse battery")
            history = browser.get(f"/stores/{name}/history?status=interrupted").text
            assert '<span class="status interrupted">interrupted</span>' in history
            page = browser.get(f"/stores/{name}/runs/{dead_id}").text
            assert f"/runs/{next_run.run_id}" in page and "resumed by" in page
    finally:
        running.server.stop()
        running.service.stop()
