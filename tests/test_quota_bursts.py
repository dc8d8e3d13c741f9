"""Bursts up to what the partner's window has left, never a 429: against the BigCommerce
sandbox (its quota headers, its 429s) and through the PostgreSQL quota ledger that scaled
mode's processes share. Counted, not timed: the limiter's waits, the sandbox's 429s, the
ledger's answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.db.quota import PostgresQuotaLedger
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import new_store
from tests.conftest import Harness, make_harness


def test_a_burst_within_the_window_goes_at_once_and_more_never_meets_a_429(
    bc_sandbox: tuple[BigCommerceSandbox, ServerThread],
) -> None:
    store = new_store(*bc_sandbox, quota=20, window_ms=1000)
    limiters = LimiterRegistry()
    connector = store.connector(limiters=limiters)
    limiter = limiters.get(f"bigcommerce:{store.hash}", lambda: None)  # type: ignore[arg-type,return-value]
    for _ in range(18):  # 20 left, 1 reserve: 19 may go in the first window
        connector.check()
    assert limiter.waited_seconds == 0
    for _ in range(30):  # past the window: waits for the resets, never refused
        connector.check()
    counters = store.counters()
    assert limiter.waited_seconds > 0
    assert counters.get("429", 0) == 0
    assert counters["calls"]["GET /v3/catalog/products"] == 48


@pytest.fixture
def pg_hub(tmp_path: Path, postgres_url: str) -> Iterator[Harness]:
    harness = make_harness(tmp_path, postgres_url)
    yield harness
    harness.hub.engine.dispose()


def test_the_ledger_lets_every_process_use_the_budget_once(pg_hub: Harness) -> None:
    ledger = PostgresQuotaLedger(pg_hub.hub.engine)
    account = "bigcommerce:shared"
    ledger.set_budget(account, 5, 60.0)
    answers = [ledger.try_start(account, (), None)[0] for _ in range(6)]
    assert answers[:5] == [0.0] * 5  # the burst: no wait
    assert 50 < answers[5] <= 60.01  # the sixth waits for the window's reset
    ledger.set_budget(account, 9, 59.5)  # a late report of the same window raises nothing
    assert ledger.try_start(account, (), None)[0] > 50
    ledger.set_budget(account, 2, 120.0)  # a report of a later window replaces it
    answers = [ledger.try_start(account, (), None)[0] for _ in range(3)]
    assert answers[:2] == [0.0, 0.0] and answers[2] > 110
