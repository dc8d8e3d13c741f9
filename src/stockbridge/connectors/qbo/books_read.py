"""The documents of a period for the month-end check: ``select * from SalesReceipt``
(or Invoice) and ``RefundReceipt`` ``where TxnDate >= start and TxnDate <= end``, paged
with STARTPOSITION / MAXRESULTS 1000 (QuickBooks' largest page)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.qbo.client import QboClient
from stockbridge.connectors.qbo.mapping import query_rows
from stockbridge.domain.reconcile import BookDocument

__all__ = ["PAGE", "read_documents", "voided"]

PAGE = 1000


def voided(document: Mapping[str, Any]) -> bool:
    """QuickBooks keeps a voided document at zero, its note starting "Voided"."""
    note = document.get("PrivateNote")
    return bool(document.get("Voided")) or (isinstance(note, str) and note.startswith("Voided"))


def _document(kind: str, row: Any) -> BookDocument:
    if not isinstance(row, dict) or not isinstance(row.get("Id"), str):
        raise PartnerResponseError(
            f"unreadable QuickBooks answer: {kind} without Id", partner="qbo"
        )
    try:
        day = date.fromisoformat(str(row["TxnDate"])) if row.get("TxnDate") else None
        total = Decimal(str(row.get("TotalAmt", 0)))
    except (ValueError, ArithmeticError):
        raise PartnerResponseError(
            f"unreadable QuickBooks answer: {kind} {row['Id']} TxnDate or TotalAmt",
            partner="qbo",
        ) from None
    note = row.get("PrivateNote")
    return BookDocument(
        kind,
        row["Id"],
        str(row.get("DocNumber") or ""),
        day,
        total,
        note if isinstance(note, str) else "",
        voided(row),
    )


def read_documents(
    client: QboClient, sales_entity: str, start: date, end: date
) -> list[BookDocument]:
    found: list[BookDocument] = []
    for entity, kind in ((sales_entity, "receipt"), ("RefundReceipt", "refund")):
        position = 1
        while True:
            rows = query_rows(
                client.query(
                    f"select * from {entity} where TxnDate >= '{start.isoformat()}' and "
                    f"TxnDate <= '{end.isoformat()}' startposition {position} maxresults {PAGE}"
                ).require_ok(f"{entity} of the period"),
                entity,
            )
            found.extend(_document(kind, row) for row in rows)
            if len(rows) < PAGE:
                break
            position += PAGE
    return found
