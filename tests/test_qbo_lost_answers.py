"""QuickBooks as hard as it gets for exactly-once: request-id replay turned off, so a
batch re-formed after a lost answer (or resent as it was) is booked again unless the hub
looks its uncertain orders up by DocNumber first. And a company limited below the
documented 30 orders per batch: the connector adapts instead of leaving orders pending.
Receipts are counted in the sandbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.connectors import qbo as qbo_connector
from stockbridge.connectors.errors import TransientPartnerError
from stockbridge.connectors.registry import ConnectorEnv
from stockbridge.domain.model import SYNC_ALL, PostRequest, RunStatus
from stockbridge.retry import RetryPolicy
from tests.fakes import FakeWebStore
from tests.qbo_support import (
    Qbo,
    connect_store,
    make_hub,
    qbo_sandbox,  # noqa: F401  (the qbo fixture)
    unlimited,
)

GIVE_UP_AT_ONCE = RetryPolicy(attempts=1, base_delay=0, sleep=lambda _s: None)


class DiesBeforeItAsks:
    """The QuickBooks connector of a hub that dies right after QuickBooks applied its batch:
    the post's answer is lost and the hub never gets to look the orders up in that process
    (its look-up fails like the dead connection would)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        raise TransientPartnerError("the hub died before it could ask", partner="qbo")


def impatient_hub(tmp_path: Path, database_url: str, qbo: Qbo, web: FakeWebStore) -> Hub:
    """A hub that tries each call once and dies before it can ask QuickBooks what became of
    a post whose answer was lost: the run ends with the orders uncertain."""
    registry = default_registry()
    registry.register("fake-web", lambda _env: web)

    def dying(env: ConnectorEnv) -> Any:
        return DiesBeforeItAsks(qbo_connector.make_back_office(env))

    registry.register(qbo_connector.KIND, dying)
    hub = bootstrap(
        Settings(home=tmp_path / "home", database_url=database_url, lease_seconds=30),
        registry=registry,
        retry=GIVE_UP_AT_ONCE,
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    return hub


@pytest.mark.parametrize("new_order_meanwhile", [True, False], ids=["re-formed", "resent"])
def test_a_lost_batch_answer_is_looked_up_not_posted_again(
    tmp_path: Path, database_url: str, qbo: Qbo, new_order_meanwhile: bool
) -> None:
    qbo.config(request_id_replay=False)  # only the DocNumber look-up can prevent doubles
    qbo.items({"sku": "A", "qty": 50})
    web = FakeWebStore()
    web.add_variant("A", 0)
    first_hub = impatient_hub(tmp_path, database_url, qbo, web)
    connect_store(first_hub, qbo)
    placed = [web.place_order([("A", 1)]) for _ in range(3)]
    qbo.faults({"path": "batch", "kind": "applied_drop"})

    lost = services.sync(first_hub, None, SYNC_ALL)

    assert lost.status is not RunStatus.SUCCEEDED
    assert qbo.receipts() == {o.number: 1 for o in placed}  # QuickBooks booked them
    first_hub.engine.dispose()
    if new_order_meanwhile:
        placed.append(web.place_order([("A", 2)]))  # the next batch differs: a new request id

    hub = make_hub(tmp_path, database_url, qbo, web)  # the next run, in a new process
    report = services.sync(hub, None, SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, report
    assert qbo.receipts() == {o.number: 1 for o in placed}
    assert qbo.counters()["replays"] == 0
    assert qbo.quantity("A") == 50 - sum(line.quantity for o in placed for line in o.lines)
    hub.engine.dispose()


def test_a_company_limited_to_10_a_batch_gets_every_order_once(tmp_path: Path, qbo: Qbo) -> None:
    qbo.config(max_batch=10)  # Intuit documents both 10 and 30; the connector defaults to 30
    qbo.items({"sku": "A", "qty": 100})
    web = FakeWebStore()
    web.add_variant("A", 0)
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo)
    placed = [web.place_order([("A", 1)]) for _ in range(25)]

    report = services.sync(hub, None, SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, report
    assert qbo.receipts() == {o.number: 1 for o in placed}
    counters = qbo.counters()
    assert max(counters["batch_sizes"]) <= 10
    assert counters["calls"]["batch"] <= 8  # two refusals (25, 12), then batches of 6
    later = [web.place_order([("A", 1)]) for _ in range(6)]
    services.sync(hub, None, SYNC_ALL)
    assert qbo.receipts() == {o.number: 1 for o in placed + later}
    hub.engine.dispose()
