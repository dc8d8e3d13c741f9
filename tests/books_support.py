"""A hub wired to the BigCommerce and QuickBooks sandboxes over HTTP, and the documents
QuickBooks holds, summed up as a merchant reads them (lines, tax, total)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.retry import RetryPolicy
from tests.bc_helpers import SandboxStore
from tests.qbo_support import Qbo, unlimited

D = Decimal
NO_WAIT = RetryPolicy(attempts=3, base_delay=0, sleep=lambda _s: None)

#: One line of a document: (SKU or "shipping" or "discount", quantity, amount, tax code)
Line = tuple[str, int, Decimal, str | None]


def bc_qbo_hub(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo, name: str = "shop", **qbo_settings: Any
) -> Hub:
    """A hub with store ``name`` on ``bc_store`` and ``qbo``, refunds paid from account
    35, one customer for the store."""
    hub = bootstrap(
        Settings(home=tmp_path / "home", lease_seconds=30),
        registry=default_registry(),
        retry=NO_WAIT,
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    add_bc_qbo_store(hub, bc_store, qbo, name, **qbo_settings)
    return hub


def add_bc_qbo_store(
    hub: Hub, bc_store: SandboxStore, qbo: Qbo, name: str, **qbo_settings: Any
) -> None:
    services.add_store(hub, name)
    services.connect_partner(
        hub,
        name,
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    services.connect_partner(
        hub,
        name,
        role="back_office",
        kind="qbo",
        settings=qbo.settings(**qbo_settings),
        secrets=qbo.secrets(),
    )
    services.update_books(hub, name, deposit_account="35")


def lines_of(qbo: Qbo, document: dict[str, Any]) -> list[Line]:
    """The document's lines in the merchant's words."""
    skus = {str(i["Id"]): str(i.get("Sku")) for i in qbo.sandbox.books.items.values()}
    out: list[Line] = []
    for line in document["Line"]:
        if line.get("DetailType") == "DiscountLineDetail":
            out.append(("discount", 0, D(str(line["Amount"])), None))
            continue
        detail = line["SalesItemLineDetail"]
        ref = str(detail["ItemRef"]["value"])
        code = detail.get("TaxCodeRef", {}).get("value")
        name = "shipping" if ref == "SHIPPING_ITEM_ID" else skus[ref]
        out.append((name, int(detail.get("Qty", 0)), D(str(line["Amount"])), code))
    return out


def summary(qbo: Qbo, document: dict[str, Any]) -> tuple[list[Line], Decimal, Decimal]:
    """(lines, tax, total) of a QuickBooks document."""
    tax = D(str(document.get("TxnTaxDetail", {}).get("TotalTax", 0)))
    return lines_of(qbo, document), tax, D(str(document["TotalAmt"]))


def by_number(qbo: Qbo, entity: str) -> dict[str, dict[str, Any]]:
    return {str(d["DocNumber"]): d for d in qbo.sandbox.books.documents[entity]}


def ledger(qbo: Qbo) -> dict[str, Decimal]:
    return {k: D(str(v)) for k, v in qbo.sandbox.books.ledger().items()}
