"""The whole cycle between the two sandboxes, BigCommerce <-> QuickBooks Online, over real
HTTP with 10% faults on both sides: every order posted exactly once (counted in the
QuickBooks sandbox), web stock converged to QuickBooks stock less unposted orders."""

from __future__ import annotations

from pathlib import Path

from stockbridge import services
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.domain.model import RunStatus
from stockbridge.retry import RetryPolicy
from tests.bc_helpers import SandboxStore
from tests.qbo_support import Qbo, qbo_sandbox, unlimited  # noqa: F401 - the qbo fixture


def test_bigcommerce_and_quickbooks_with_faults_converge(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo
) -> None:
    skus = [f"W{i}" for i in range(20)]
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus[:10]]
        + [
            {
                "name": "Tee",
                "sku": "TEE",
                "tracking": "variant",
                "variants": [{"sku": s, "inventory_level": 0} for s in skus[10:]],
            }
        ]
    )
    qbo.items(*({"sku": s, "qty": 30 + n} for n, s in enumerate(skus)))
    hub = bootstrap(
        Settings(home=tmp_path / "home", lease_seconds=30),
        retry=RetryPolicy(attempts=4, base_delay=0, sleep=lambda _s: None),
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    services.add_store(hub, "shop")
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    services.connect_partner(
        hub,
        "shop",
        role="back_office",
        kind="qbo",
        settings=qbo.settings(batch_size=7),
        secrets=qbo.secrets(),
    )
    orders = [
        bc_store.order([(skus[n % 20], 1 + n % 2), (skus[(n * 7) % 20], 1)]) for n in range(45)
    ]

    bc_store.faults(rate=0.1, kinds=["5xx", "drop", "drop_after"], seed=3)
    qbo.faults(
        {"path": "batch", "kind": "applied_drop", "times": 2, "skip": 1},
        {"path": "*", "kind": "error", "times": 3, "skip": 4},
        rate=0.1,
    )
    for _ in range(4):
        services.sync(hub, "shop")
    bc_store.faults(rate=0.0)
    qbo.faults(rate=0.0)
    final = services.sync(hub, "shop")
    assert final.status is RunStatus.SUCCEEDED, final

    receipts = qbo.receipts()
    assert len(receipts) == len(orders) and set(receipts.values()) == {1}
    web = bc_store.stock()
    assert {s: web[s] for s in skus} == {s: qbo.quantity(s) for s in skus}
    assert sum(v for k, v in bc_store.counters()["calls"].items() if k.startswith("fault:")) > 0
    assert qbo.counters()["injected"]
