"""The Web Connector as a durable mailbox, with real processes: embedded (one ``serve``
on SQLite) and scaled (two ``serve --no-worker`` answering calls of one session in
turn, two workers, PostgreSQL). Every web order posted once, stock converged after an
in-store sale; a session dropped after QuickBooks applied its receipts, or the process
that took its calls killed with SIGKILL, followed by a session the other process
answers: nothing posted twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from stockbridge import services
from stockbridge.db.models import QbwcExchange, StoreLease
from stockbridge.domain.model import SYNC_ALL, RunStatus
from tests.bc_helpers import SandboxStore
from tests.qbwc_cluster import Setup, start_cluster


@pytest.fixture(name="setup")
def setup_fixture(
    request: pytest.FixtureRequest, tmp_path: Path, bc_store: SandboxStore
) -> Iterator[Setup]:
    flavour, mode = str(request.param).split("-")
    url = str(request.getfixturevalue("postgres_url")) if mode == "scaled" else None
    yield from start_cluster(tmp_path / "home", url, bc_store, flavour)


CASES = [
    "desktop-embedded",
    "pos-embedded",
    pytest.param("desktop-scaled", marks=pytest.mark.postgres),
    pytest.param("pos-scaled", marks=pytest.mark.postgres),
]


def _all_urls(setup: Setup) -> list[str]:
    return [setup.cluster.url(i) for i in range(len(setup.cluster.serves))]


@pytest.mark.parametrize("setup", CASES, indirect=True)
def test_a_full_cycle_posts_once_and_converges(setup: Setup, bc_store: SandboxStore) -> None:
    cluster, company = setup.cluster, setup.company
    wc = setup.connector(*_all_urls(setup))
    first = wc.session()
    assert first.percents[-1] == 100, first
    cluster.settle()
    assert {s: bc_store.stock()[s] for s in ("A", "B", "C")} == {"A": 20, "B": 21, "C": 22}

    numbers = [str(bc_store.order([("A", 2), ("B", 1)])["id"]) for _ in range(3)]
    report = services.sync(cluster.hub, "shop", SYNC_ALL)  # orders in; QuickBooks not called
    assert report.status is RunStatus.SUCCEEDED, report
    assert company.receipts_by_ref() == {}
    company.set_quantity("C", 15)  # an in-store sale
    second = wc.session()
    assert second.percents[-1] == 100, second
    cluster.settle()
    assert company.receipts_by_ref() == dict.fromkeys(numbers, 1)
    assert company.quantity("A") == 14
    stock = bc_store.stock()
    assert {s: stock[s] for s in ("A", "B", "C")} == {"A": 14, "B": 18, "C": 15}
    wc.session()
    cluster.settle()
    assert company.receipts_by_ref() == dict.fromkeys(numbers, 1)


@pytest.mark.parametrize("setup", ["desktop-embedded", "pos-embedded"], indirect=True)
def test_a_vanished_session_holds_nothing_and_the_next_finishes_the_work(
    setup: Setup, bc_store: SandboxStore
) -> None:
    cluster, company = setup.cluster, setup.company
    wc = setup.connector(cluster.url(0))
    wc.session()
    cluster.settle()
    orders = [str(bc_store.order([("A", 1)])["id"]) for _ in range(2)]
    services.sync(cluster.hub, "shop", SYNC_ALL)
    # Signs in, is handed the receipts, QuickBooks applies them, and the PC goes away.
    vanished = wc.session(drop_on="SalesReceiptAddRq")
    assert vanished.dropped and "closeConnection" not in vanished.calls
    assert company.receipts_by_ref() == dict.fromkeys(orders, 1)
    cluster.settle()  # no run waits for the PC
    with cluster.hub.uow() as uow:
        held = uow.session.scalar(
            select(func.count()).select_from(StoreLease).where(StoreLease.run_id.is_not(None))
        )
    assert held == 0
    # A manual Sync All of the store runs now, while that session is still "open".
    report = services.sync(cluster.hub, "shop", SYNC_ALL)
    assert report.status is RunStatus.SUCCEEDED, report
    after = wc.session()
    assert after.percents[-1] == 100, after
    cluster.settle()
    assert company.receipts_by_ref() == dict.fromkeys(orders, 1)
    assert bc_store.stock()["A"] == 18


@pytest.mark.postgres
@pytest.mark.parametrize("setup", ["desktop-scaled", "pos-scaled"], indirect=True)
def test_dropped_and_killed_sessions_then_the_other_process_posts_nothing_twice(
    setup: Setup, bc_store: SandboxStore
) -> None:
    cluster, company = setup.cluster, setup.company
    both = setup.connector(*_all_urls(setup))
    both.session()
    cluster.settle()
    first = [str(bc_store.order([("A", 1)])["id"]) for _ in range(2)]
    services.sync(cluster.hub, "shop", SYNC_ALL)
    # Dropped after QuickBooks applied the receipts (calls alternate between processes).
    assert both.session(drop_on="SalesReceiptAddRq").dropped
    assert company.receipts_by_ref() == dict.fromkeys(first, 1)
    # The next session, answered by the second process alone: looked up, not re-added.
    other = setup.connector(cluster.url(1))
    assert other.session().percents[-1] == 100
    cluster.settle()
    assert company.receipts_by_ref() == dict.fromkeys(first, 1)

    second = [str(bc_store.order([("B", 1)])["id"]) for _ in range(2)]
    services.sync(cluster.hub, "shop", SYNC_ALL)
    # The first process takes the whole session; QuickBooks applies; it is killed -9.
    only_first = setup.connector(cluster.url(0))
    assert only_first.session(drop_on="SalesReceiptAddRq").dropped
    cluster.kill_serve(0)
    survivor = setup.connector(cluster.url(0))  # index 0 is now the other process
    assert survivor.session().percents[-1] == 100
    cluster.settle()
    assert company.receipts_by_ref() == dict.fromkeys(first + second, 1)
    assert company.quantity("A") == 18 and company.quantity("B") == 19
    with cluster.hub.uow() as uow:
        finds = uow.session.scalar(
            select(func.count()).select_from(QbwcExchange).where(QbwcExchange.kind == "find")
        )
    assert finds == 2  # each uncertain batch looked up once
