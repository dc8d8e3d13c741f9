"""Two stores book into one QuickBooks company with the same document numbers: a refund
whose answer was lost is looked up before it is sent again, and the look-up never takes
the other store's RefundReceipt (same DocNumber, another store's ref) for its own."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.connectors.qbo import KIND
from stockbridge.domain.model import SYNC_ALL, InventorySource, RefundLine, RunStatus, WebRefund
from stockbridge.retry import RetryPolicy
from tests.fakes import FakeWebStore
from tests.qbo_support import Qbo, qbo_sandbox, unlimited  # noqa: F401  (the qbo fixture)
from tests.test_books_qbo import change, place, web_with

D = Decimal
GIVE_UP_AT_ONCE = RetryPolicy(attempts=1, base_delay=0, sleep=lambda _s: None)


def _always(web: FakeWebStore) -> Callable[[Any], FakeWebStore]:
    return lambda _env: web


def two_store_hub(tmp_path: Path, qbo: Qbo, webs: dict[str, FakeWebStore]) -> Hub:
    registry = default_registry()
    for name, web in webs.items():
        registry.register(f"fake-{name}", _always(web))
    hub = bootstrap(
        Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'hub.db'}"),
        registry=registry,
        retry=GIVE_UP_AT_ONCE,
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    for name in webs:
        services.add_store(hub, name, inventory_source=InventorySource.BACK_OFFICE)
        store_id = services.resolve_store(hub, name)
        with hub.uow() as uow:
            uow.stores.connect(
                store_id, role="web", kind=f"fake-{name}", settings={}, credentials=None
            )
            uow.commit()
        services.connect_partner(
            hub,
            name,
            role="back_office",
            kind=KIND,
            settings=qbo.settings(),
            secrets=qbo.secrets(),
        )
        services.update_books(hub, name, deposit_account="35")
    return hub


def refund_one(web: FakeWebStore) -> None:
    change(
        web,
        "K2",
        refunds=(
            WebRefund("r9", D("10.80"), D("0.80"), D("0"), (RefundLine("K2-0", 1, D("10.00")),)),
        ),
    )


def test_a_lost_refund_is_never_matched_to_another_stores_refund_receipt(
    tmp_path: Path, qbo: Qbo
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    qbo.config(request_id_replay=False)
    webs = {"shop": web_with("A"), "other": web_with("A")}
    hub = two_store_hub(tmp_path, qbo, webs)
    for web in webs.values():
        place(web, "K2", [("A", 1, "10.00")], tax="0.80")  # 10.80, the same number
    refund_one(webs["other"])
    assert services.sync(hub, "other", SYNC_ALL).status is RunStatus.SUCCEEDED
    assert services.sync(hub, "shop", SYNC_ALL).status is RunStatus.SUCCEEDED
    (theirs,) = qbo.sandbox.books.documents["RefundReceipt"]
    refund_one(webs["shop"])
    qbo.faults({"path": "refundreceipt", "kind": "drop", "times": 1})

    lost = services.sync(hub, "shop", SYNC_ALL)

    assert lost.status is RunStatus.PARTIAL, lost
    assert any("will be checked before sending again" in e.message for e in lost.errors)
    again = services.sync(hub, "shop", SYNC_ALL)

    assert again.status is RunStatus.SUCCEEDED, again
    assert qbo.receipts()["K2-R1"] == 2  # the other store's and this one's
    ours = [d for d in qbo.sandbox.books.documents["RefundReceipt"] if d is not theirs]
    assert len(ours) == 1 and ours[0]["Id"] != theirs["Id"]
    with hub.uow() as uow:
        shop = services.resolve_store(hub, "shop")
        (reversal,) = uow.orders.reversals(shop, "K2")
    assert (reversal.state, reversal.document_ref) == ("done", ours[0]["Id"])
    assert qbo.sandbox.books.ledger()["money_in"] == D("0")  # both refunded, once each
