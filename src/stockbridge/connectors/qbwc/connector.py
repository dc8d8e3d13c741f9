"""The back office behind the QuickBooks Web Connector (QuickBooks Desktop / Point of Sale).

QuickBooks has no inbound API: the Web Connector on the shop's PC calls the hub, and the
hub answers from a durable mailbox (``services/qbwc_mailbox.py``): whichever process
takes the SOAP call prepares the next request from the hub's tables and applies the
answer in the same transaction. So a sync run never talks to QuickBooks: to a run this
back office is always *waiting* (``waiting_for``), the sync steps leave it alone, and
no run or thread waits for a PC.

This module is the partner's side of the mailbox, without storage: the settings of a
connection (``QbwcSetup``) and, per kind of exchange, the request document and the
reading of QuickBooks' answer, for both flavours (qbXML on Desktop, qbposXML on POS).

Exactly once without a request id: each receipt carries our idempotency key (Desktop:
RefNumber = the web order number, at most 11 characters, and the key in the Memo; POS:
the key in Comments); an order whose post had an unknown outcome is looked up by it
before it is ever sent again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from stockbridge.connectors.errors import TransientPartnerError
from stockbridge.connectors.qbwc import qbposxml, qbxml, qbxml_reversals
from stockbridge.connectors.qbwc.qbxml import InventoryPage
from stockbridge.domain.books import ReversalKind, ReversalRequest
from stockbridge.domain.model import BackOfficeItem, ItemError, Page, PostOutcome, PostRequest

__all__ = ["FLAVOURS", "SKU_FIELDS", "WAITING", "QbwcBackOffice", "QbwcSetup"]

FLAVOURS = ("desktop", "pos")
#: flavour -> the SKU fields it maps by (the first is the default)
SKU_FIELDS = {
    "desktop": ("full_name", "name", "manufacturer_part_number"),
    "pos": ("alu", "item_number", "upc"),
}
WAITING = (
    "QuickBooks is reached through the Web Connector: its next update posts the orders "
    "and reads the items"
)
DEFAULT_BATCH = 25
DEFAULT_PAGE = 500
PARTNER = "quickbooks-web-connector"


@dataclass(frozen=True)
class QbwcSetup:
    """A Web Connector connection's settings, checked."""

    flavour: str = "desktop"
    sku_field: str = "full_name"
    batch_size: int = DEFAULT_BATCH
    page_size: int = DEFAULT_PAGE
    user_name: str = ""
    #: Desktop: the items shipping, discount and sales tax lines name.
    charges: qbxml.ChargeItems = field(default_factory=qbxml.ChargeItems)

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> QbwcSetup:
        flavour = str(settings.get("flavour") or "desktop")
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)} (got {flavour!r})")
        fields = SKU_FIELDS[flavour]
        sku_field = str(settings.get("sku_field") or fields[0])
        if sku_field not in fields:
            raise ValueError(f"sku_field must be one of {', '.join(fields)} for {flavour}")
        batch = int(settings.get("batch_size") or DEFAULT_BATCH)
        page = int(settings.get("page_size") or DEFAULT_PAGE)
        if not 1 <= batch <= 100 or not 1 <= page <= 1000:
            raise ValueError("batch_size must be 1-100 and page_size 1-1000")
        defaults = qbxml.ChargeItems()
        charges = qbxml.ChargeItems(
            str(settings.get("shipping_item") or defaults.shipping)[:159],
            str(settings.get("discount_item") or defaults.discount)[:159],
            str(settings.get("sales_tax_item") or defaults.sales_tax)[:159],
            str(settings.get("refund_customer") or defaults.customer)[:209],
        )
        user = str(settings.get("user_name") or "")
        return cls(flavour, sku_field, batch, page, user, charges)

    @property
    def pos(self) -> bool:
        return self.flavour == "pos"

    @property
    def by_list_id(self) -> bool:
        """Lines name items by ListID: always in POS, by part number on Desktop."""
        return self.pos or self.sku_field == "manufacturer_part_number"

    # -- the requests and the reading of their answers ---------------------------------

    def refs_request(self) -> str:
        return qbposxml.item_refs_query(self.sku_field) if self.pos else qbxml.item_refs_query()

    def read_refs(self, answer: str) -> dict[str, str]:
        """SKU -> ListID."""
        return self.read_items(answer).list_ids

    def items_request(
        self,
        since: datetime | None,
        until: datetime,
        iterator_id: str | None,
        utc_offset: timedelta | None,
    ) -> str:
        """Items modified from ``since`` to ``until`` (UTC in the hub; sent in the
        company's local time with ``utc_offset``, or a window wide enough for any
        offset while it is not known), or the next page of ``iterator_id``."""
        xml = qbposxml if self.pos else qbxml
        query: str = xml.inventory_query(
            since=since,
            until=until,
            max_returned=self.page_size,
            iterator_id=iterator_id,
            utc_offset=utc_offset,
        )
        return query

    def read_items(self, answer: str) -> InventoryPage:
        if self.pos:
            return qbposxml.parse_inventory(answer, sku_field=self.sku_field)
        return qbxml.parse_inventory(answer, sku_field=self.sku_field)

    def unmapped(self, request: PostRequest, refs: Mapping[str, str]) -> ItemError | None:
        """Why the order cannot be sent (a line's item has no ListID), or None."""
        if not self.by_list_id:
            return None
        missing = [line.sku for line in request.order.lines if line.sku not in refs]
        if not missing:
            return None
        field = self.sku_field.replace("_", " ")
        message = f"no QuickBooks item has the {field} {', '.join(missing)}"
        return ItemError(request.order.web_id, message, "3140")

    def post_request(self, requests: Sequence[PostRequest], refs: Mapping[str, str]) -> str:
        if self.pos:
            return qbposxml.add_receipts(requests, refs=dict(refs))
        return qbxml.add_receipts(
            requests, sku_field=self.sku_field, refs=dict(refs), charges=self.charges
        )

    def read_posts(self, answer: str, web_ids: Sequence[str]) -> list[PostOutcome]:
        """One outcome per order QuickBooks answered for (absent: unknown, look it up)."""
        if self.pos:
            answered = qbposxml.parse_receipt_adds(answer, web_ids)
        else:
            answered = qbxml.parse_receipt_adds(answer, web_ids)
        outcomes: list[PostOutcome] = []
        for web_id, result in answered.items():
            if isinstance(result, str):
                outcomes.append(PostOutcome(web_id, document_ref=result))
            else:
                outcomes.append(PostOutcome(web_id, error=result))
        return outcomes

    def find_request(self, requests: Sequence[PostRequest]) -> str:
        return qbposxml.find_receipts(requests) if self.pos else qbxml.find_receipts(requests)

    def read_found(self, answer: str, requests: Sequence[PostRequest]) -> dict[str, str]:
        """web order id -> TxnID of the receipts that are ours (our key, exactly)."""
        if self.pos:
            found = qbposxml.parse_receipt_query(answer)
        else:
            found = qbxml.parse_receipt_query(answer)
        posted: dict[str, str] = {}
        for request in requests:
            ref = qbxml.ref_number(request.order.number)
            for receipt in found:
                if qbxml.carries_key(receipt.memo, request.idempotency_key) and (
                    self.pos or receipt.ref_number == ref
                ):
                    posted[request.order.web_id] = receipt.txn_id
                    break
        return posted

    # -- reversals of posted orders (Desktop: voids and credit memos; POS: returns) -----

    def reverse_request(self, requests: Sequence[ReversalRequest], refs: Mapping[str, str]) -> str:
        """Desktop: a void or a credit memo per reversal."""
        return qbxml_reversals.reverse(
            requests, sku_field=self.sku_field, refs=dict(refs), charges=self.charges
        )

    def read_reversals(self, answer: str, count: int) -> dict[int, str | ItemError]:
        return qbxml_reversals.parse_reversals(answer, count)

    def unreversible(self, request: ReversalRequest, refs: Mapping[str, str]) -> str | None:
        """Why a reversal cannot be sent (None: it can)."""
        if self.pos:
            return qbposxml.returnable(request, dict(refs))
        if not self.by_list_id or request.reversal.kind is ReversalKind.VOID:
            return None
        missing = sorted({li.sku for li in request.reversal.lines if li.sku not in refs})
        if missing:
            return f"no QuickBooks item has the manufacturer part number {', '.join(missing)}"
        return None

    def return_request(self, requests: Sequence[ReversalRequest], refs: Mapping[str, str]) -> str:
        return qbposxml.add_returns(requests, refs=dict(refs))

    def read_returns(self, answer: str, keys: Sequence[str]) -> dict[str, str | ItemError]:
        """reversal key -> TxnID of its return receipt, or ItemError."""
        return qbposxml.parse_receipt_adds(answer, keys)

    def find_returns_request(self, requests: Sequence[ReversalRequest]) -> str:
        """The look-up of uncertain reversals: POS return receipts, Desktop credit memos."""
        if not self.pos:
            return qbxml_reversals.find_credit_memos(requests)
        return qbposxml.find_receipts([_keyed(r) for r in requests])

    def read_found_returns(
        self, answer: str, requests: Sequence[ReversalRequest]
    ) -> dict[str, str]:
        """reversal key -> TxnID of the return receipts (POS) or credit memos (Desktop)
        that are ours (our key, exactly)."""
        if not self.pos:
            return qbxml_reversals.found_credit_memos(answer, requests)
        return self.read_found(answer, [_keyed(r) for r in requests])


def _keyed(request: ReversalRequest) -> PostRequest:
    """A reversal as the receipt look-up sees it: known by its own key."""
    return PostRequest(replace(request.order, web_id=request.key), request.key)


class QbwcBackOffice:
    """QuickBooks through the Web Connector, as a sync run sees it: always waiting (the
    Web Connector's sessions do the work through the mailbox)."""

    max_orders_per_call = DEFAULT_BATCH

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.setup = QbwcSetup.of(settings)
        self.max_orders_per_call = self.setup.batch_size

    @property
    def waiting_for(self) -> str | None:
        return WAITING

    def check(self) -> str:
        product = "QuickBooks Point of Sale" if self.setup.pos else "QuickBooks Desktop"
        return (
            f"{product} through the Web Connector (user {self.setup.user_name!r}); open "
            "the .qwc file in the Web Connector on the shop's PC"
        )

    def close(self) -> None:
        return None

    def _refuse(self) -> TransientPartnerError:
        return TransientPartnerError(WAITING, partner=PARTNER, code="pulled")

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        raise self._refuse()

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        raise self._refuse()

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        raise self._refuse()
