"""QuickBooks Online JSON <-> typed values. Every partner quirk of shape lives here.

Reading: ``parse_*`` turn a decoded answer (decoded with ``parse_float=Decimal``) into
frozen values and raise ``PartnerResponseError`` naming what is missing or mistyped, so
no raw dict travels past the connector. Writing: the documents are built in
``documents`` (re-exported here: ``receipt_body``, ``refund_body``...); ``dumps`` writes
them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.qbo.documents import (
    MAX_DOC_NUMBER,
    ReceiptOptions,
    doc_number,
    is_ours,
    private_note,
    receipt_body,
    refund_body,
)
from stockbridge.domain.model import BackOfficeItem, ItemError

__all__ = [
    "FAULT_NAMES",
    "MAX_DOC_NUMBER",
    "Fault",
    "QboItem",
    "ReceiptOptions",
    "cdc_items",
    "decode",
    "doc_number",
    "dumps",
    "fault_error",
    "is_ours",
    "parse_fault",
    "parse_items",
    "parse_time",
    "private_note",
    "query_rows",
    "receipt_body",
    "refund_body",
    "sql_quote",
]

PARTNER = "qbo"

#: The fault codes the merchant must see named, in their words.
FAULT_NAMES: Mapping[str, str] = {
    "610": "object not found",
    "2500": "invalid reference",
    "5010": "stale object (edited elsewhere since read)",
    "6000": "business validation error",
    "6140": "duplicate document number",
    "6240": "duplicate name (a customer, vendor or employee has it)",
}


def _bad(what: str) -> PartnerResponseError:
    return PartnerResponseError(f"unreadable QuickBooks answer: {what}", partner=PARTNER)


def decode(content: bytes, what: str) -> Mapping[str, Any]:
    """The JSON object of an answer, money as Decimal; PartnerResponseError otherwise."""
    try:
        data = json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"{what} is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise _bad(f"{what} is not a JSON object")
    return data


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise _bad(f"{what}: field {key!r} missing or of the wrong type")
    return value


def parse_time(text: str) -> datetime:
    """QuickBooks times carry an offset (``2026-11-23T07:21:06-08:00``); returned in UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad(f"time {text!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QboItem:
    """An Item as QuickBooks has it; ``sku`` None when the item has no SKU."""

    id: str
    name: str
    sku: str | None
    type: str
    quantity: int | None
    price: Decimal | None
    active: bool
    updated_at: datetime

    def to_back_office(self) -> BackOfficeItem:
        assert self.sku is not None
        return BackOfficeItem(
            sku=self.sku,
            name=self.name,
            price=self.price,
            quantity=self.quantity,
            active=self.active,
            modified_at=self.updated_at,
            partner_id=self.id,
        )


def _parse_item(raw: Any) -> QboItem:
    if not isinstance(raw, dict):
        raise _bad("an Item is not an object")
    what = f"Item {raw.get('Id')!r}"
    meta = _field(raw, "MetaData", dict, what)
    kind = str(raw.get("Type", ""))
    qty = raw.get("QtyOnHand")
    quantity: int | None = None
    if kind == "Inventory":
        if not isinstance(qty, int | Decimal):
            raise _bad(f"{what}: Inventory item without QtyOnHand")
        quantity = int(qty)
    price = raw.get("UnitPrice")
    if price is not None and not isinstance(price, int | Decimal):
        raise _bad(f"{what}: UnitPrice is not a number")
    sku = raw.get("Sku")
    return QboItem(
        id=str(_field(raw, "Id", str, what)),
        name=str(_field(raw, "Name", str, what)),
        sku=sku if isinstance(sku, str) and sku.strip() else None,
        type=kind,
        quantity=quantity,
        price=None if price is None else Decimal(price),
        active=bool(raw.get("Active", True)),
        updated_at=parse_time(_field(meta, "LastUpdatedTime", str, what)),
    )


def query_rows(answer: Mapping[str, Any], entity: str) -> list[Any]:
    """The rows of ``entity`` in a query answer (absent when nothing matched)."""
    response = _field(answer, "QueryResponse", dict, "query answer")
    rows = response.get(entity, [])
    if not isinstance(rows, list):
        raise _bad(f"QueryResponse.{entity} is not a list")
    return rows


def parse_items(rows: Sequence[Any]) -> list[QboItem]:
    return [_parse_item(row) for row in rows]


def cdc_items(answer: Mapping[str, Any]) -> list[QboItem]:
    """Items of a ``/cdc`` answer: ``CDCResponse[].QueryResponse[].Item[]``."""
    items: list[QboItem] = []
    for block in _field(answer, "CDCResponse", list, "cdc answer"):
        if not isinstance(block, dict):
            raise _bad("CDCResponse entry is not an object")
        for response in _field(block, "QueryResponse", list, "cdc answer"):
            if not isinstance(response, dict):
                raise _bad("CDC QueryResponse entry is not an object")
            rows = response.get("Item", [])
            if not isinstance(rows, list):
                raise _bad("CDC Item is not a list")
            items.extend(_parse_item(r) for r in rows if r.get("status") != "Deleted")
    return items


@dataclass(frozen=True, slots=True)
class Fault:
    """A QuickBooks Fault: its type and first error (code, message, detail, element)."""

    type: str
    code: str
    message: str
    detail: str = ""
    element: str = ""

    def describe(self) -> str:
        name = FAULT_NAMES.get(self.code)
        text = f"{name}: {self.message}" if name else self.message
        if self.detail and self.detail != self.message:
            text += f" — {self.detail}"
        if self.element:
            text += f" (field {self.element})"
        return text


def parse_fault(obj: Mapping[str, Any]) -> Fault | None:
    """The Fault in ``obj`` (a whole answer or a BatchItemResponse), None when absent."""
    raw = obj.get("Fault")
    if not isinstance(raw, dict):
        return None
    errors = raw.get("Error")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return Fault(
        type=str(raw.get("type", "Fault")),
        code=str(first.get("code", "")),
        message=str(first.get("Message", "QuickBooks refused the request")),
        detail=str(first.get("Detail", "")),
        element=str(first.get("element", "")),
    )


def fault_error(key: str, fault: Fault) -> ItemError:
    return ItemError(key, fault.describe(), fault.code or None)


def sql_quote(value: str) -> str:
    """A QuickBooks query string literal (backslash escapes the quote)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dumps(body: Any) -> bytes:
    """JSON for QuickBooks. Decimals go out as JSON numbers through ``float``: money has
    far fewer than 15 significant digits, and ``repr(float)`` is the shortest text that
    reads back as the same value, so ``Decimal("9.99")`` is written ``9.99``.
    """
    return json.dumps(body, default=_number, separators=(",", ":")).encode()


def _number(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
