"""The back office behind the QuickBooks Web Connector (QuickBooks Desktop).

QuickBooks Desktop has no inbound API: the Web Connector on the shop's PC calls the hub.
A run built while a Web Connector session of the store is open (``BROKER.live``) talks
through that session: each call here becomes one qbXML message set handed to the Web
Connector, and waits for QuickBooks' answer. A run built with no session open is
*waiting*: ``waiting_for`` says so, and the sync steps skip the back office (no order is
marked, no cursor moves); the next session does the work, derived from the hub's state.

Exactly once without a request id: each receipt's RefNumber is the web order number (at
most 11 characters) and its Memo names our idempotency key; an order whose post had an
unknown outcome is looked up (SalesReceiptQueryRq by RefNumber, matched on the memo)
before it is ever sent again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from stockbridge.connectors.qbwc import qbposxml, qbxml
from stockbridge.connectors.qbwc.conversation import Conversation, ConversationClosed
from stockbridge.domain.model import (
    BackOfficeItem,
    ItemError,
    Page,
    PostOutcome,
    PostRequest,
)

__all__ = ["FLAVOURS", "WAITING", "QbwcBackOffice"]

FLAVOURS = ("desktop", "pos")
#: flavour -> the SKU fields it maps by (the first is the default)
SKU_FIELDS = {
    "desktop": ("full_name", "name", "manufacturer_part_number"),
    "pos": ("alu", "item_number", "upc"),
}
WAITING = "waiting for the Web Connector (QuickBooks asks for work at its next update)"
DEFAULT_BATCH = 25
DEFAULT_PAGE = 500


class QbwcBackOffice:
    """QuickBooks Desktop over a Web Connector session (None: waiting for one)."""

    def __init__(self, settings: Mapping[str, Any], conversation: Conversation | None) -> None:
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
        self.flavour = flavour
        self.sku_field = sku_field
        self.max_orders_per_call = batch
        self.page_size = page
        self.user_name = str(settings.get("user_name") or "")
        self._conversation = conversation
        self._list_ids: dict[str, str] | None = None

    @property
    def waiting_for(self) -> str | None:
        """Why the back office cannot be reached now (None: a session is open)."""
        if self._conversation is None or self._conversation.closed:
            return WAITING  # the session ended before this step: nothing is marked or sent
        return None

    @property
    def _pos(self) -> bool:
        return self.flavour == "pos"

    def check(self) -> str:
        product = "QuickBooks Point of Sale" if self._pos else "QuickBooks Desktop"
        return (
            f"{product} through the Web Connector (user {self.user_name!r}); open "
            "the .qwc file in the Web Connector on the shop's PC"
        )

    def close(self) -> None:
        if self._conversation is not None:
            self._conversation.finish()

    def _ask(self, request: str) -> str:
        if self._conversation is None:
            raise ConversationClosed(WAITING)
        return self._conversation.exchange(request)

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        """Items changed since ``since``, through one iterator (Start, then Continue), a
        page per answer. The cursor moves only with the last page (an iterator's pages
        are not in modification order): the newest TimeModified seen."""
        iterator: str | None = None
        newest = since
        read = 0
        while True:
            xml = qbposxml if self._pos else qbxml
            answer = self._ask(
                xml.inventory_query(since=since, max_returned=self.page_size, iterator_id=iterator)
            )
            page = xml.parse_inventory(answer, sku_field=self.sku_field)
            read += len(page.items)
            if page.newest is not None and (newest is None or page.newest > newest):
                newest = page.newest
            last = page.remaining <= 0 or page.iterator_id is None
            if self._conversation is not None:
                done = read / max(1, read + page.remaining)
                self._conversation.progress(50 + int(49 * done))
            yield Page(tuple(page.items), newest if last else None)
            if last:
                if self._conversation is not None:
                    self._conversation.finish()  # orders went before; nothing more to ask
                return
            iterator = page.iterator_id

    @property
    def _by_list_id(self) -> bool:
        """Lines name items by ListID: always in POS, by part number on Desktop."""
        return self._pos or self.sku_field == "manufacturer_part_number"

    def _refs(self) -> dict[str, str]:
        """SKU -> ListID, read once per run when lines need ListIDs."""
        if not self._by_list_id:
            return {}
        if self._list_ids is None:
            if self._pos:
                answer = self._ask(qbposxml.item_refs_query(self.sku_field))
                page = qbposxml.parse_inventory(answer, sku_field=self.sku_field)
            else:
                answer = self._ask(qbxml.item_refs_query())
                page = qbxml.parse_inventory(answer, sku_field=self.sku_field)
            self._list_ids = page.list_ids
        return self._list_ids

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        refs = self._refs()
        outcomes: list[PostOutcome] = []
        sendable: list[PostRequest] = []
        for request in requests:
            missing = [
                line.sku
                for line in request.order.lines
                if self._by_list_id and line.sku not in refs
            ]
            if missing:
                field = self.sku_field.replace("_", " ")
                message = f"no QuickBooks item has the {field} {', '.join(missing)}"
                outcomes.append(
                    PostOutcome(
                        request.order.web_id, error=ItemError(request.order.web_id, message, "3140")
                    )
                )
            else:
                sendable.append(request)
        if not sendable:
            return outcomes
        if self._conversation is not None:
            self._conversation.progress(25)
        if self._pos:
            answer = self._ask(qbposxml.add_receipts(sendable, refs=refs))
            answered = qbposxml.parse_receipt_adds(answer, sendable)
        else:
            answer = self._ask(qbxml.add_receipts(sendable, sku_field=self.sku_field, refs=refs))
            answered = qbxml.parse_receipt_adds(answer, sendable)
        for request in sendable:
            result = answered.get(request.order.web_id)
            if isinstance(result, str):
                outcomes.append(PostOutcome(request.order.web_id, document_ref=result))
            elif isinstance(result, ItemError):
                outcomes.append(PostOutcome(request.order.web_id, error=result))
            # no answer for it: absent, so the step keeps it uncertain and looks it up
        return outcomes

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        if not requests:
            return {}
        if self._pos:  # POS numbers its receipts: ours are known by their Comments
            found = qbposxml.parse_receipt_query(self._ask(qbposxml.find_receipts(requests)))
        else:
            found = qbxml.parse_receipt_query(self._ask(qbxml.find_receipts(requests)))
        posted: dict[str, str] = {}
        for request in requests:
            ref = qbxml.ref_number(request.order.number)
            for receipt in found:
                if request.idempotency_key in receipt.memo and (
                    self._pos or receipt.ref_number == ref
                ):
                    posted[request.order.web_id] = receipt.txn_id
                    break
        return posted
