"""QuickBooks Online as a ``BackOffice``: items in, web orders out as sales receipts.

Settings (the connection's, all optional but ``realm_id``):
``realm_id``; ``api_url`` (replaces https://quickbooks.api.intuit.com); ``token_url``;
``batch_size`` (orders per ``/batch`` call, default 30 — Intuit documents both 10 and
30; a batch QuickBooks refuses whole is split in halves and the smaller size kept for the
connector's life, so a company limited lower costs a couple of calls, not stuck orders);
``document`` (``sales_receipt`` or ``invoice``); ``customer_id`` or ``customer_name``
(default "Web Store", created when missing); ``doc_prefix`` (DocNumber = prefix + web
order number, at most 21 characters); ``shipping_item_id`` (default SHIPPING_ITEM_ID);
``prefetch_items`` (read the whole item list to map SKUs when it has at most this many
items, default 5,000); ``tax_mode`` (the company's tax kind: ``ast``, the default, for a
US company with automated sales tax; ``us_codes`` for a US company without it;
``global`` outside the US) and ``tax_code_id`` (the TaxCode taxed sales carry:
the transaction's in ``us_codes``, every line's in ``global``, where it is required).

What the store chooses for its books comes with each request (``PostRequest.books``):
one customer for every order or one per buyer (matched by e-mail, created once; a
DisplayName another customer, vendor or employee holds gets the e-mail added), the
payment method by the web's method name, the deposit account.

Reversals (``post_reversals``): a void of the posted document (read first for its
SyncToken) or a RefundReceipt (DocNumber = the order's + ``-R<n>``), each under a
requestid; ``find_reversals`` looks them up after an unknown outcome.

Exactly once: every create carries a ``requestid`` derived from the orders' idempotency
keys and the exact body sent, so a resend of the same call (a retry after a dropped
connection) is answered with the first result instead of creating again; a later run
looks uncertain orders up by DocNumber first (``find_posted``, called by the engine).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.paging import (
    CursorPaginator,
    OffsetPaginator,
    PageAnswer,
    RepeatedPage,
)
from stockbridge.connectors.qbo.books_read import read_documents, voided
from stockbridge.connectors.qbo.client import Answer, QboClient
from stockbridge.connectors.qbo.documents import (
    TAX_MODES,
    ReceiptOptions,
    doc_number,
    is_ours,
    receipt_body,
    refund_body,
)
from stockbridge.connectors.qbo.mapping import (
    PARTNER,
    QboItem,
    cdc_items,
    dumps,
    fault_error,
    parse_fault,
    parse_items,
    parse_time,
    query_rows,
    sql_quote,
)
from stockbridge.domain.batching import batched
from stockbridge.domain.books import ReversalKind, ReversalRequest
from stockbridge.domain.model import (
    BackOfficeItem,
    BooksOptions,
    CustomerMode,
    ItemError,
    Page,
    PostOutcome,
    PostRequest,
    WebOrder,
)
from stockbridge.domain.reconcile import BookDocument

__all__ = ["CDC_WINDOW", "QboBackOffice"]

log = logging.getLogger(__name__)

PAGE = 1000  # the query endpoint's maximum MAXRESULTS, and CDC's most objects per answer
CDC_WINDOW = timedelta(days=30)
LOOKUP_CHUNK = 100  # values per "in (...)" clause: a batch's SKUs in one short query
MAX_BATCH_REQUEST_ID = 36
MAX_REQUEST_ID = 50


class QboBackOffice:
    """One QuickBooks company (realm). Used by one thread at a time."""

    def close(self) -> None:
        self.client.http.client.close()

    def __init__(self, client: QboClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        self.max_orders_per_call = int(settings.get("batch_size", 30))
        if not 1 <= self.max_orders_per_call <= 30:
            raise ValueError("batch_size must be between 1 and 30")
        document = str(settings.get("document", "sales_receipt"))
        if document not in ("sales_receipt", "invoice"):
            raise ValueError("document must be sales_receipt or invoice")
        self.entity = "Invoice" if document == "invoice" else "SalesReceipt"
        self.customer_id: str | None = settings.get("customer_id") or None
        self.customer_name = str(settings.get("customer_name") or "Web Store")
        self.doc_prefix = str(settings.get("doc_prefix") or "")
        self.shipping_item_id = str(settings.get("shipping_item_id") or "SHIPPING_ITEM_ID")
        self.prefetch_items = int(settings.get("prefetch_items", 5000))
        self.tax_mode = str(settings.get("tax_mode") or "ast")
        if self.tax_mode not in TAX_MODES:
            raise ValueError(f"tax_mode must be one of {', '.join(TAX_MODES)}")
        self.tax_code_id: str | None = settings.get("tax_code_id") or None
        if self.tax_mode == "global" and self.tax_code_id is None:
            raise ValueError("tax_mode global needs tax_code_id (the TaxCode sales carry)")
        self._buyers: dict[str, str] = {}  # e-mail (case-folded) -> customer id
        self._items: dict[str, QboItem | None] = {}  # by SKU; None: not in QuickBooks
        self._prefetched = False
        self._complete = False  # the whole item list is in _items

    # reading ------------------------------------------------------------------

    def check(self) -> str:
        data = self.client.get(f"companyinfo/{self.client.realm_id}").require_ok("company info")
        info = data.get("CompanyInfo")
        if not isinstance(info, dict) or not isinstance(info.get("CompanyName"), str):
            raise PartnerResponseError("company info without CompanyName", partner=PARTNER)
        return str(info["CompanyName"])

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        """Changes since ``since`` through CDC; everything (a full query) when there is no
        cursor or it is older than CDC's 30 days. A full scan's pages carry no cursor but
        the last, which carries the server's time when the scan began: an item changed
        while the scan ran is read again by the next CDC, never skipped.
        """
        now = datetime.now(UTC)
        if since is None or since < now - CDC_WINDOW + timedelta(minutes=5):
            return self._full_scan()
        return self._changes(since)

    def _full_scan(self) -> Iterator[Page[BackOfficeItem]]:
        for rows, cursor in self._scan():
            yield Page(_with_sku(rows), cursor=cursor)

    def _scan(self) -> Iterator[tuple[list[QboItem], datetime | None]]:
        """Every item, a page of at most 1,000 at a time; the last page carries the cursor."""
        began, latest = None, None
        pages = OffsetPaginator(PAGE, start=1, partner=PARTNER, what="item query")
        for start in pages:
            answer = self.client.query(
                f"select * from Item STARTPOSITION {start} MAXRESULTS {PAGE}"
            ).require_ok("item query")
            if began is None:
                began = _server_time(answer)
            rows = parse_items(query_rows(answer, "Item"))
            for item in rows:
                latest = item.updated_at if latest is None else max(latest, item.updated_at)
            pages.advance(PageAnswer(len(rows), tuple(item.id for item in rows)))
            yield rows, (began or latest) if pages.finished else None

    def _changes(self, since: datetime) -> Iterator[Page[BackOfficeItem]]:
        pages = CursorPaginator(since, _next_change, partner=PARTNER, what="change data capture")
        try:
            for changed_since in pages:
                answer = self.client.get(
                    "cdc", {"entities": "Item", "changedSince": _iso(changed_since)}
                ).require_ok("change data capture")
                rows = sorted(cdc_items(answer), key=lambda i: i.updated_at)
                yield Page(_with_sku(rows), cursor=rows[-1].updated_at if rows else None)
                pages.advance(rows)
        except RepeatedPage:  # 1,000 changes in one second: CDC cannot move past them
            yield from self._full_scan()

    # writing ------------------------------------------------------------------

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        if len(requests) > self.max_orders_per_call:
            raise ValueError(f"at most {self.max_orders_per_call} orders per call")
        self._resolve(line.sku for r in requests for line in r.order.lines)
        ids = {
            line.sku: self._item(line.sku).id
            for r in requests
            for line in r.order.lines
            if self._items.get(line.sku) is not None
        }
        outcomes: dict[str, PostOutcome] = {}
        bodies: dict[str, tuple[PostRequest, dict[str, Any]]] = {}
        for request in requests:
            web_id = request.order.web_id
            refusal = self._refusal(request)
            if refusal is not None:
                outcomes[web_id] = PostOutcome(web_id, error=refusal)
                continue
            try:
                options = self._options(request.order, request.books)
            except _CustomerRefused as exc:
                outcomes[web_id] = PostOutcome(web_id, error=exc.error)
                continue
            bodies[web_id] = (
                request,
                receipt_body(request.order, request.idempotency_key, ids, options),
            )
        if len(bodies) == 1:
            ((request, body),) = bodies.values()
            outcomes[request.order.web_id] = self._post_one(request, body)
        elif bodies:
            outcomes.update(self._post_batch(list(bodies.values())))
        return [outcomes[r.order.web_id] for r in requests if r.order.web_id in outcomes]

    def check_orders(self, requests: Sequence[PostRequest]) -> Mapping[str, ItemError]:
        """The refusals ``post_orders`` would give, by reading only (``OrderChecker``):
        the same item look-up and the same checks, no customer created, nothing posted."""
        self._resolve(line.sku for r in requests for line in r.order.lines)
        refusals = {r.order.web_id: self._refusal(r) for r in requests}
        return {web_id: error for web_id, error in refusals.items() if error is not None}

    def _refusal(self, request: PostRequest) -> ItemError | None:
        """Why this order cannot be sent (nothing is sent for it), or None."""
        key = f"order {request.order.number}"
        try:
            doc_number(request.order, self.doc_prefix)
        except ValueError as exc:
            return ItemError(key, str(exc), "DocNumber")
        skus = [line.sku for line in request.order.lines]
        unknown = [s for s in dict.fromkeys(skus) if self._items.get(s) is None]
        if unknown:
            return ItemError(
                key,
                f"no item in QuickBooks with SKU {', '.join(unknown)}",
                "unknown-sku",
            )
        inactive = [s for s in dict.fromkeys(skus) if not self._item(s).active]
        if inactive:
            names = ", ".join(f"{s} ({self._item(s).name})" for s in inactive)
            return ItemError(key, f"item inactive in QuickBooks: SKU {names}", "inactive-item")
        return None

    def _post_one(self, request: PostRequest, body: dict[str, Any]) -> PostOutcome:
        web_id = request.order.web_id
        answer = self.client.post(
            self.entity.lower(), body, request_id=_request_id(request.idempotency_key, body)
        )
        return self._outcome(web_id, request.order.number, answer.status, answer.data)

    def _post_batch(
        self, items: list[tuple[PostRequest, dict[str, Any]]]
    ) -> dict[str, PostOutcome]:
        by_bid = {str(i): request for i, (request, _body) in enumerate(items)}
        payload = {
            "BatchItemRequest": [
                {"bId": str(i), "operation": "create", self.entity: body}
                for i, (_request, body) in enumerate(items)
            ]
        }
        keys = [request.idempotency_key for request, _body in items]
        answer: Answer = self.client.post(
            "batch", payload, request_id=_batch_request_id(keys, payload), batch=True
        )
        outcomes: dict[str, PostOutcome] = {}
        if answer.status != 200:  # the whole batch refused (e.g. too many items)
            fault = parse_fault(answer.data)
            if fault is None:
                answer.require_ok("batch")
                raise AssertionError("unreachable")  # pragma: no cover
            if len(items) > 1:  # nothing was booked: smaller batches are safe to send
                return self._post_in_halves(items, fault.describe())
            return {
                r.order.web_id: PostOutcome(
                    r.order.web_id, error=fault_error(f"order {r.order.number}", fault)
                )
                for r in by_bid.values()
            }
        responses = answer.data.get("BatchItemResponse")
        if not isinstance(responses, list):
            raise PartnerResponseError("batch answer without BatchItemResponse", partner=PARTNER)
        for entry in responses:
            if not isinstance(entry, dict) or str(entry.get("bId")) not in by_bid:
                continue  # unanswered orders stay uncertain; the engine looks them up
            request = by_bid[str(entry["bId"])]
            status = 400 if "Fault" in entry else 200
            outcomes[request.order.web_id] = self._outcome(
                request.order.web_id, request.order.number, status, entry
            )
        return outcomes

    def _post_in_halves(
        self, items: list[tuple[PostRequest, dict[str, Any]]], reason: str
    ) -> dict[str, PostOutcome]:
        """QuickBooks refused a whole batch (a company may allow fewer than 30 a batch):
        send it again in batches of half the size, and keep that size from now on."""
        self.max_orders_per_call = max(1, len(items) // 2)
        log.warning(
            "QuickBooks refused a batch of %d orders (%s); sending at most %d per batch "
            "from now on (set the connection's batch_size to skip this step)",
            len(items),
            reason,
            self.max_orders_per_call,
        )
        outcomes: dict[str, PostOutcome] = {}
        rest = items
        while rest:
            chunk, rest = rest[: self.max_orders_per_call], rest[self.max_orders_per_call :]
            if len(chunk) == 1:
                ((request, body),) = chunk
                outcomes[request.order.web_id] = self._post_one(request, body)
            else:
                outcomes.update(self._post_batch(chunk))
        return outcomes

    def _outcome(
        self, web_id: str, number: str, status: int, data: Mapping[str, Any]
    ) -> PostOutcome:
        key = f"order {number}"
        fault = parse_fault(data)
        if fault is not None:
            return PostOutcome(web_id, error=fault_error(key, fault))
        document = data.get(self.entity)
        if status == 200 and isinstance(document, dict) and isinstance(document.get("Id"), str):
            return PostOutcome(web_id, str(document["Id"]))
        raise PartnerResponseError(
            f"{key}: answer {status} without a {self.entity} Id", partner=PARTNER
        )

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        by_number: dict[str, PostRequest] = {}
        for request in requests:
            try:
                by_number[doc_number(request.order, self.doc_prefix)] = request
            except ValueError:
                continue  # never sendable, so never posted
        found: dict[str, str] = {}
        for chunk in batched(list(by_number), LOOKUP_CHUNK):
            values = ", ".join(sql_quote(n) for n in chunk)
            answer = self.client.query(
                f"select * from {self.entity} where DocNumber in ({values})"
            ).require_ok(f"{self.entity} look-up")
            for row in query_rows(answer, self.entity):
                if not isinstance(row, dict) or not isinstance(row.get("Id"), str):
                    raise PartnerResponseError(f"{self.entity} without Id", partner=PARTNER)
                asked = by_number.get(str(row.get("DocNumber")))
                if asked is None or not is_ours(row.get("PrivateNote"), asked.idempotency_key):
                    continue  # another store's document with the same number
                found.setdefault(asked.order.web_id, str(row["Id"]))
        return found

    # look-ups -------------------------------------------------------------------

    def _resolve(self, skus: Iterable[str]) -> None:
        """Know the item of every SKU (None: not in QuickBooks). The first call reads the
        whole item list when it is small (``prefetch_items``: a few calls instead of a
        look-up per batch); otherwise SKUs are looked up as orders bring them.
        """
        if not self._prefetched:
            self._prefetched = True
            if self.prefetch_items > 0 and self._item_count() <= self.prefetch_items:
                for rows, _cursor in self._scan():
                    for item in rows:
                        if item.sku is not None:
                            self._items[item.sku] = item
                self._complete = True
        wanted = [s for s in dict.fromkeys(skus) if s not in self._items]
        if self._complete:
            self._items.update(dict.fromkeys(wanted))
            return
        for chunk in batched(wanted, LOOKUP_CHUNK):
            values = ", ".join(sql_quote(s) for s in chunk)
            answer = self.client.query(f"select * from Item where Sku in ({values})").require_ok(
                "item look-up"
            )
            for sku in chunk:
                self._items[sku] = None
            for item in parse_items(query_rows(answer, "Item")):
                if item.sku in self._items:
                    self._items[item.sku] = item

    def _item_count(self) -> int:
        answer = self.client.query("select count(*) from Item").require_ok("item count")
        count = answer.get("QueryResponse", {}).get("totalCount")
        if not isinstance(count, int):
            raise PartnerResponseError("item count answer without totalCount", partner=PARTNER)
        return count

    def _item(self, sku: str) -> QboItem:
        item = self._items.get(sku)
        assert item is not None
        return item

    def _options(self, order: WebOrder, books: BooksOptions) -> ReceiptOptions:
        return ReceiptOptions(
            customer_id=self._customer_for(order, books),
            doc_prefix=self.doc_prefix,
            shipping_item_id=self.shipping_item_id,
            tax_mode=self.tax_mode,
            tax_code_id=self.tax_code_id,
            payment_method_id=books.payment_method_for(order.payment_method),
            deposit_account_id=books.deposit_account,
        )

    def _customer_for(self, order: WebOrder, books: BooksOptions) -> str:
        """The order's customer: the store's one customer, or its buyer's (by e-mail)."""
        # Matched and stored in lower case: the same buyer, however the web spelled it.
        email = (order.customer_email or "").strip().lower()
        if books.customer_mode is not CustomerMode.PER_BUYER or not email:
            return self._customer()
        known = self._buyers.get(email)
        if known is not None:
            return known
        answer = self.client.query(
            f"select * from Customer where PrimaryEmailAddr = {sql_quote(email)}"
        ).require_ok("customer look-up")
        rows = [r for r in query_rows(answer, "Customer") if isinstance(r, dict)]
        found = next((str(r["Id"]) for r in rows if isinstance(r.get("Id"), str)), None)
        if found is None:
            found = self._create_buyer(order, email)
        self._buyers[email] = found
        return found

    def _create_buyer(self, order: WebOrder, email: str) -> str:
        """Create the buyer's customer once (a resend carries the same requestid). Its
        DisplayName is the billing name; one a customer, vendor or employee already
        holds (QuickBooks' 6240) gets the e-mail added, then a short digest of it."""
        name = _display_name(order.billing_name or email)
        digest = hashlib.sha256(email.casefold().encode()).hexdigest()
        candidates = dict.fromkeys(
            [name, _display_name(f"{name} ({email})"), _display_name(f"{name} {digest[:8]}")]
        )
        last: str = ""
        for candidate in candidates:
            body: dict[str, Any] = {
                "DisplayName": candidate,
                "PrimaryEmailAddr": {"Address": email},
            }
            first, _, family = (order.billing_name or "").partition(" ")
            if first:
                body["GivenName"] = first[:100]
            if family:
                body["FamilyName"] = family[:100]
            request_id = f"sbc-{_digest(email.casefold(), candidate)[:32]}"
            answer = self.client.post("customer", body, request_id=request_id)
            fault = parse_fault(answer.data)
            if fault is not None and fault.code == "6240":
                last = fault.describe()
                continue
            if fault is not None:
                raise _CustomerRefused(
                    ItemError(
                        f"order {order.number}",
                        f"customer {candidate!r}: {fault.describe()}",
                        fault.code or None,
                    )
                )
            created = answer.require_ok("customer create").get("Customer")
            if not isinstance(created, dict) or not isinstance(created.get("Id"), str):
                raise PartnerResponseError("created Customer without Id", partner=PARTNER)
            return str(created["Id"])
        raise _CustomerRefused(
            ItemError(f"order {order.number}", f"no free customer name for {email}: {last}", "6240")
        )

    # reversals ------------------------------------------------------------------

    def post_reversals(self, requests: Sequence[ReversalRequest]) -> Sequence[PostOutcome]:
        """Each reversal on its own call (a void needs the document's SyncToken first);
        the outcome's ``web_id`` is the request's key. A refusal is an item error."""
        self._resolve(line.sku for r in requests for line in r.reversal.lines)
        outcomes: list[PostOutcome] = []
        for request in requests:
            if request.reversal.kind is ReversalKind.VOID:
                outcomes.append(self._void(request))
            else:
                outcomes.append(self._refund(request))
        return outcomes

    def _void(self, request: ReversalRequest) -> PostOutcome:
        label = f"order {request.order.number} void"
        answer = self.client.get(f"{self.entity.lower()}/{request.document_ref}")
        fault = parse_fault(answer.data)
        if fault is not None:
            return PostOutcome(request.key, error=fault_error(label, fault))
        document = answer.require_ok(label).get(self.entity)
        if not isinstance(document, dict) or not isinstance(document.get("SyncToken"), str):
            raise PartnerResponseError(f"{label}: {self.entity} without SyncToken", partner=PARTNER)
        if _voided(document):
            return PostOutcome(request.key, request.document_ref)
        body = {"Id": request.document_ref, "SyncToken": document["SyncToken"], "sparse": True}
        answer = self.client.post(
            self.entity.lower(), body, request_id=_request_id(request.key, body), operation="void"
        )
        fault = parse_fault(answer.data)
        if fault is not None:
            return PostOutcome(request.key, error=fault_error(label, fault))
        answer.require_ok(label)
        return PostOutcome(request.key, request.document_ref)

    def _refund_number(self, request: ReversalRequest) -> str:
        number = f"{doc_number(request.order, self.doc_prefix)}-R{request.seq}"
        if len(number) > 21:
            raise ValueError(f"refund DocNumber {number!r} is longer than QuickBooks' 21")
        return number

    def _refund(self, request: ReversalRequest) -> PostOutcome:
        label = f"order {request.order.number} {request.reversal.key}"
        try:
            number = self._refund_number(request)
        except ValueError as exc:
            return PostOutcome(request.key, error=ItemError(label, str(exc), "DocNumber"))
        unknown = [line.sku for line in request.reversal.lines if self._items.get(line.sku) is None]
        if unknown:
            return PostOutcome(
                request.key,
                error=ItemError(
                    label,
                    f"no item in QuickBooks with SKU {', '.join(dict.fromkeys(unknown))}",
                    "unknown-sku",
                ),
            )
        if request.books.deposit_account is None:
            return PostOutcome(
                request.key,
                error=ItemError(
                    label,
                    "a refund receipt is paid from an account: set the store's deposit "
                    "account (stockbridge store books --deposit-account ID)",
                    "DepositToAccountRef",
                ),
            )
        try:
            options = self._options(request.order, request.books)
        except _CustomerRefused as exc:
            return PostOutcome(request.key, error=exc.error)
        ids = {line.sku: self._item(line.sku).id for line in request.reversal.lines}
        body = refund_body(request.order, request.reversal, number, request.key, ids, options)
        answer = self.client.post("refundreceipt", body, request_id=_request_id(request.key, body))
        fault = parse_fault(answer.data)
        if fault is not None:
            return PostOutcome(request.key, error=fault_error(label, fault))
        document = answer.require_ok(label).get("RefundReceipt")
        if not isinstance(document, dict) or not isinstance(document.get("Id"), str):
            raise PartnerResponseError(f"{label}: RefundReceipt without Id", partner=PARTNER)
        return PostOutcome(request.key, str(document["Id"]))

    def find_reversals(self, requests: Sequence[ReversalRequest]) -> Mapping[str, str]:
        """Reversals QuickBooks holds already (key -> document id): a voided document,
        a RefundReceipt with the reversal's DocNumber and our ref."""
        found: dict[str, str] = {}
        refunds: dict[str, ReversalRequest] = {}
        for request in requests:
            if request.reversal.kind is ReversalKind.VOID:
                answer = self.client.get(f"{self.entity.lower()}/{request.document_ref}")
                document = answer.require_ok("void look-up").get(self.entity)
                if isinstance(document, dict) and _voided(document):
                    found[request.key] = request.document_ref
                continue
            try:
                refunds[self._refund_number(request)] = request
            except ValueError:
                continue  # never sendable, so never sent
        for chunk in batched(list(refunds), LOOKUP_CHUNK):
            values = ", ".join(sql_quote(n) for n in chunk)
            rows = self.client.query(
                f"select * from RefundReceipt where DocNumber in ({values})"
            ).require_ok("RefundReceipt look-up")
            for row in query_rows(rows, "RefundReceipt"):
                if not isinstance(row, dict) or not isinstance(row.get("Id"), str):
                    raise PartnerResponseError("RefundReceipt without Id", partner=PARTNER)
                asked = refunds.get(str(row.get("DocNumber")))
                if asked is None or not is_ours(row.get("PrivateNote"), asked.key):
                    continue
                found.setdefault(asked.key, str(row["Id"]))
        return found

    def books_documents(self, start: date, end: date) -> Sequence[BookDocument]:
        """The period's receipts (or invoices) and refund receipts (``books_read``)."""
        return read_documents(self.client, self.entity, start, end)

    def _customer(self) -> str:
        if self.customer_id is None:
            name = sql_quote(self.customer_name)
            answer = self.client.query(
                f"select * from Customer where DisplayName = {name}"
            ).require_ok("customer look-up")
            rows = query_rows(answer, "Customer")
            if rows and isinstance(rows[0], dict) and isinstance(rows[0].get("Id"), str):
                self.customer_id = str(rows[0]["Id"])
            else:
                digest = hashlib.sha256(self.customer_name.encode()).hexdigest()[:32]
                created = self.client.post(
                    "customer", {"DisplayName": self.customer_name}, request_id=f"sbc-{digest}"
                ).require_ok("customer create")
                customer = created.get("Customer")
                if not isinstance(customer, dict) or not isinstance(customer.get("Id"), str):
                    raise PartnerResponseError("created Customer without Id", partner=PARTNER)
                self.customer_id = str(customer["Id"])
        return self.customer_id


class _CustomerRefused(Exception):
    """The order's customer could not be found or created: the order is refused."""

    def __init__(self, error: ItemError) -> None:
        super().__init__(error.message)
        self.error = error


#: QuickBooks refuses a colon in names; DisplayName holds at most 500 characters.
def _display_name(text: str) -> str:
    return " ".join(text.replace(":", " ").split())[:500]


_voided = voided


def _next_change(rows: Sequence[QboItem]) -> datetime | None:
    """CDC's next ``changedSince``: the newest change of a full answer (sorted oldest first)."""
    return rows[-1].updated_at if len(rows) >= PAGE else None


def _with_sku(rows: Sequence[QboItem]) -> tuple[BackOfficeItem, ...]:
    return tuple(item.to_back_office() for item in rows if item.sku is not None)


def _server_time(answer: Mapping[str, Any]) -> datetime | None:
    text = answer.get("time")
    return parse_time(text) if isinstance(text, str) else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _digest(*parts: object) -> str:
    return hashlib.sha256(b"\n".join(dumps(p) for p in parts)).hexdigest()


def _request_id(key: str, body: Mapping[str, Any]) -> str:
    """The order's key plus a digest of the exact body: the same resend gets the same id,
    a changed body (an item fixed since a refusal) a new one."""
    digest = _digest(key, body)
    if len(key) + 9 <= MAX_REQUEST_ID:
        return f"{key}-{digest[:8]}"
    return f"sb-{digest[: MAX_REQUEST_ID - 3]}"


def _batch_request_id(keys: Sequence[str], payload: Mapping[str, Any]) -> str:
    """At most 36 characters, the same for the same batch resent unchanged."""
    return f"sbb-{_digest(list(keys), payload)[: MAX_BATCH_REQUEST_ID - 4]}"
