"""Every benchmark runs at a small size through its own entry point, checks its own result
and exits 0; a bench whose result is wrong exits 1. Counts only, never timings.

Each bench runs as ``python -m bench NAME`` in a process of its own (as ``./dev bench``
runs it), bounded in time. The broken-result cases run a bench's ``main`` in this
process with one product rule broken on purpose (the bench must notice) or with the
bench's own partner missing a method (the bug that once let ``qbo_orders`` print 0
receipts and exit 0).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import feed_ingest, inventory_out, qbo_orders

from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.db.catalog import CatalogRepository
from stockbridge.domain.inventory import plan_push_rows
from stockbridge.sandbox_server import ServerThread

ROOT = Path(__file__).resolve().parent.parent

# (bench, small-size arguments, lines its check report must hold: counts)
SMOKE: list[tuple[str, list[str], list[str]]] = [
    (
        "inventory_out",
        ["--variants", "3000"],
        [
            "ok  3,000 all_changed: items pushed: 3000",
            "ok  3,000 1pct_changed: items pushed: 30",
            "ok  3,000 unchanged: items pushed: 0",
            "ok  3,000 all_changed: partner calls: 2",
        ],
    ),
    (
        "feed_ingest",
        ["--rows", "3000"],
        [
            "ok  3,000 rows: changes found: 30",
            "ok  3,000 rows: changes applied: 30",
            "ok  3,000 rows: changes left when diffed again: 0",
        ],
    ),
    (
        "qbwc_session",
        ["--orders", "60", "--items", "250", "--batch", "25", "--page", "100"],
        [
            "ok  receipts in the company: 60",
            "ok  SalesReceiptAdd round trips: 3",
            "ok  ItemInventoryQuery round trips: 3",
            "ok  items whose hub stock is not QuickBooks' less what was sold: []",
            "ok  receipts added by the second session: 0",
        ],
    ),
    (
        "qbo_orders",
        ["--orders", "90", "--sample", "6"],
        [
            "ok  batch: orders taken in: 90",
            "ok  batch: receipts in the sandbox: 90",
            "ok  batch: DocNumbers with more than one receipt: 0",
            "ok  batch: orders acknowledged to the web store: 90",
            "ok  one by one: receipts in the sandbox: 6",
            "ok  batch calls 3 within one of the minimum 3",
        ],
    ),
    (
        "bigcommerce_push",
        ["--variants", "4000", "--quota", "5", "--window-ms", "1000", "--peer-sample", "300"],
        [
            "ok  inventory-out: items the sandbox applied: 4000",
            "ok  storefront stock differing from the hub's (of 4,000): 0",
            "ok  inventory-out again, nothing changed: items sent: 0",
            "ok  peer: variants the sandbox updated: 300",
            "4,000 variants in 2 requests (2 writes, minimum 2; 0 x 429)",
            "300 variants in 6 requests (0 x 429)",
        ],
    ),
    (
        "catalog_push",
        ["--new", "12", "--prices", "120", "--quota", "50", "--window-ms", "1000"],
        [
            "ok  products created (POST): 12",
            "ok  storefront prices differing from the hub's (of 120): 0",
            "ok  requests (batch-limit minimum): 16",
            "ok  429 answers: 0",
            "ok  run again, nothing changed: catalog requests: 0",
        ],
    ),
    (
        "webhook_ingest",
        ["--generator", "python", "--deliveries", "300", "--connections", "4"],
        [
            "ok  deliveries not answered 200: 0",
            "ok  distinct events stored 270 = distinct sent 270",
            "ok  every stored event turned into work within 60 s",
        ],
    ),
    (
        "echo_push",
        ["--skus", "200"],
        [
            "ok  SKUs whose storefront stock is not the back office's (of 200): 0",
            "ok  webhook events left unprocessed: 0",
        ],
    ),
    (
        "orders_in",
        ["--orders", "300", "--big-orders", "2", "--window-ms", "1000"],
        [
            "ok  orders taken in: 300",
            "ok  order lists 2 <= 3",
            "ok  line reads (only the orders cut at 50 lines): 4",
            "ok  429s: 0",
        ],
    ),
    (
        "latency",
        ["--samples", "2"],
        [
            "ok  receipts in the QuickBooks sandbox: 2",
            "ok  orders with a second receipt: 0",
            "ok  SKUs whose storefront stock is not the last one pushed: 0",
        ],
    ),
]


@pytest.mark.parametrize(("bench", "args", "expected"), SMOKE, ids=[s[0] for s in SMOKE])
def test_bench_runs_small_and_checks_itself(
    bench: str, args: list[str], expected: list[str]
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", bench, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    assert "CHECK FAILED" not in out.stdout, report
    assert "checks passed" in out.stdout, report
    for line in expected:
        assert line in out.stdout, f"{line!r} missing from:\n{report}"


def test_qbo_orders_with_a_web_store_missing_methods_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old bench's bug: its web store lacked ``close`` (and more), orders-in was
    skipped, 0 receipts, exit 0. Now the run fails and so does the bench."""
    monkeypatch.delattr(qbo_orders.OrderFeed, "close")
    assert qbo_orders.main(["--orders", "30", "--sample", "3"]) == 1
    out = capsys.readouterr().out
    assert "CHECK FAILED: batch: run status (ConnectorMismatch" in out
    assert "lacks close" in out
    assert "CHECK FAILED: batch: receipts in the sandbox: 0, expected 30" in out


def test_inventory_out_that_loses_items_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Break "every changed item is pushed": the plan drops every 100th item."""

    def lossy(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for n, item in enumerate(plan_push_rows(*args, **kwargs)):
            if n % 100 != 99:
                yield item

    monkeypatch.setattr("stockbridge.sync.inventory_out.plan_push_rows", lossy)
    assert inventory_out.main(["--variants", "1000"]) == 1
    out = capsys.readouterr().out
    assert "CHECK FAILED: 1,000 all_changed: items pushed: 990, expected 1000" in out


def test_feed_ingest_that_applies_half_a_page_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Break "every change is applied": the hub keeps only half of each page."""
    applied = CatalogRepository.apply_back_office_items

    def half(self: CatalogRepository, store_id: int, items: Sequence[Any], **how: Any) -> Any:
        return applied(self, store_id, items[: len(items) // 2], **how)

    monkeypatch.setattr(CatalogRepository, "apply_back_office_items", half)
    assert feed_ingest.main(["--rows", "2000"]) == 1
    out = capsys.readouterr().out
    assert "CHECK FAILED: 2,000 rows: changes left when diffed again: 10, expected 0" in out


@pytest.fixture
def bc() -> Iterator[tuple[BigCommerceSandbox, str]]:
    sandbox = BigCommerceSandbox()
    sandbox.stores["s"] = SStore(hash="s", token="t", quota=1000)
    with ServerThread(sandbox.app) as server:
        yield sandbox, server.url
    sandbox.close()


def test_sandbox_variants_batch_sets_stock_and_keeps_the_documented_limit(
    bc: tuple[BigCommerceSandbox, str],
) -> None:
    """The peer in bench bigcommerce_push writes stock through PUT /v3/catalog/variants,
    at most 50 variants a call (413 beyond, nothing applied)."""
    sandbox, url = bc
    created = httpx.post(
        f"{url}/admin/stores/s/products",
        json={
            "products": [
                {
                    "sku": "P",
                    "tracking": "variant",
                    "variants": [{"sku": f"P-{n}", "inventory_level": 0} for n in range(51)],
                }
            ]
        },
    ).json()["created"][0]["variant_ids"]
    api = httpx.Client(base_url=f"{url}/stores/s", headers={"X-Auth-Token": "t"})

    too_many = api.put(
        "/v3/catalog/variants", json=[{"id": v, "inventory_level": 5} for v in created]
    )
    assert too_many.status_code == 413
    assert set(sandbox.stores["s"].stock().values()) == {0}

    fifty = [{"id": v, "inventory_level": 7 + n} for n, v in enumerate(created[:50])]
    assert api.put("/v3/catalog/variants", json=fifty).status_code == 200
    stock = sandbox.stores["s"].stock()
    assert [stock[f"P-{n}"] for n in range(51)] == [7 + n for n in range(50)] + [0]


def test_qbwc_session_that_posts_an_order_twice_exits_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import qbwc_session

    from stockbridge.connectors.qbwc.connector import QbwcSetup

    # Every answer to a batch of receipts lost, and the look-up finding nothing: each
    # batch is added again by the second session. The bench's own checks must see the
    # duplicate receipts.
    monkeypatch.setattr(QbwcSetup, "read_posts", lambda self, answer, web_ids: [])
    monkeypatch.setattr(QbwcSetup, "read_found", lambda self, answer, requests: {})
    assert qbwc_session.main(["--orders", "30", "--items", "200", "--page", "100"]) == 1
