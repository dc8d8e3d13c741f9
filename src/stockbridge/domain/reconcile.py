"""The month-end check: the web store's orders, refunds and cancellations of a period,
day by day, against the documents the back office holds, matched by our keys.

A back-office document is ours when its note carries our ref: ``sb-<store>-<web id>``
for an order's receipt, ``sbr-<store>-<web id>-<n>`` for its n-th reversal (the refs
``domain.orders.idempotency_key`` and ``domain.books.reversal_idempotency_key`` make).
Every difference is listed with its cause, in the merchant's words:

- ``not posted yet``: the hub has not booked it (not read yet, or waiting to be sent);
- ``refused``: the hub or the back office refused it, and why;
- ``amount differs``: the document's total is not what the web store took or gave back;
- ``booked by hand or by another store``: a document of the period that is none of this
  store's (no ref of ours: typed by hand, or another store's ref);
- ``missing reversal``: a refund or cancellation the books do not show although the hub
  holds it as done, or a cancelled order whose receipt still stands.

Pure: the caller reads the partners and the hub and hands the values in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from stockbridge.domain.books import CANCEL_KEY, reversal_idempotency_key
from stockbridge.domain.orders import idempotency_key

__all__ = [
    "BookDocument",
    "Cause",
    "DayTotals",
    "Difference",
    "HubOrder",
    "HubReversal",
    "Reconciliation",
    "WebPeriod",
    "WebRefundSeen",
    "WebSale",
    "reconcile",
    "ref_of",
]

ZERO = Decimal("0")
OURS = "posted by Stockbridge, ref "


class Cause(StrEnum):
    NOT_POSTED = "not posted yet"
    REFUSED = "refused"
    AMOUNT_DIFFERS = "amount differs"
    BOOKED_ELSEWHERE = "booked by hand or by another store"
    MISSING_REVERSAL = "missing reversal"


@dataclass(frozen=True, slots=True)
class WebSale:
    """A web order placed on ``day``; ``cancelled``: cancelled (or refunded whole) since."""

    web_id: str
    number: str
    day: date
    total: Decimal
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class WebRefundSeen:
    """A refund the web store made on ``day`` on the order ``web_id``."""

    refund_id: str
    web_id: str
    day: date
    total: Decimal


@dataclass(frozen=True, slots=True)
class WebPeriod:
    sales: tuple[WebSale, ...] = ()
    refunds: tuple[WebRefundSeen, ...] = ()


@dataclass(frozen=True, slots=True)
class BookDocument:
    """A back-office document: ``kind`` ``receipt`` (sales receipt / invoice) or
    ``refund``; ``voided`` receipts stand at zero."""

    kind: str
    id: str
    number: str
    day: date | None
    total: Decimal
    note: str = ""
    voided: bool = False


@dataclass(frozen=True, slots=True)
class HubReversal:
    key: str  # refund-<id> | cancel
    seq: int
    kind: str  # void | refund
    state: str  # pending | uncertain | done | refused
    total: Decimal
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HubOrder:
    """What the hub holds about a web order: its post state, the last refusal, and its
    reversals in the order they were decided."""

    web_id: str
    post_state: str
    error: str | None = None
    reversals: tuple[HubReversal, ...] = ()


@dataclass(frozen=True, slots=True)
class Difference:
    day: date
    what: str  # order | refund | cancellation | document
    ref: str  # web order number, refund id, or the document's number
    cause: Cause
    detail: str
    web_amount: Decimal | None = None
    books_amount: Decimal | None = None


@dataclass
class DayTotals:
    day: date
    orders: int = 0
    orders_total: Decimal = ZERO
    refunds: int = 0
    refunds_total: Decimal = ZERO
    cancellations: int = 0
    receipts: int = 0
    receipts_total: Decimal = ZERO
    refund_receipts: int = 0
    refund_receipts_total: Decimal = ZERO
    voids: int = 0


@dataclass(frozen=True)
class Reconciliation:
    start: date
    end: date
    days: tuple[DayTotals, ...]
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def agrees(self) -> bool:
        return not self.differences


def ref_of(note: str) -> str | None:
    """The Stockbridge ref a document's note carries, or None."""
    if OURS not in note:
        return None
    return note.rsplit(OURS, 1)[-1].strip() or None


def reconcile(
    store_id: int,
    start: date,
    end: date,
    web: WebPeriod,
    documents: Iterable[BookDocument],
    hub: Mapping[str, HubOrder],
) -> Reconciliation:
    """Each web order, refund and cancellation of [start, end] against ``documents``
    (the back office's of the period, and ours found by number outside it)."""
    days: dict[date, DayTotals] = defaultdict(lambda: DayTotals(date.min))
    found: list[Difference] = []
    mine: dict[str, BookDocument] = {}
    for document in documents:
        ref = ref_of(document.note)
        ours = ref is not None and (
            ref.startswith(f"sb-{store_id}-") or ref.startswith(f"sbr-{store_id}-")
        )
        if ref is not None and ours:
            mine.setdefault(ref, document)
        if document.day is None or not start <= document.day <= end:
            continue
        _count_document(_day(days, document.day), document)
        if not ours:
            who = f"another store's (ref {ref})" if ref else "no Stockbridge ref: by hand"
            found.append(
                Difference(
                    document.day,
                    "document",
                    document.number,
                    Cause.BOOKED_ELSEWHERE,
                    f"{document.kind} {document.number} for {document.total:.2f}: {who}",
                    books_amount=document.total,
                )
            )
    for sale in web.sales:
        totals = _day(days, sale.day)
        totals.orders += 1
        totals.orders_total += sale.total
        totals.cancellations += sale.cancelled
        found.extend(_check_sale(store_id, sale, hub.get(sale.web_id), mine))
    for refund in web.refunds:
        totals = _day(days, refund.day)
        totals.refunds += 1
        totals.refunds_total += refund.total
        found.extend(_check_refund(store_id, refund, hub.get(refund.web_id), mine))
    ordered = sorted(days.values(), key=lambda d: d.day)
    found.sort(key=lambda d: (d.day, d.what, d.ref))
    return Reconciliation(start, end, tuple(ordered), tuple(found))


def _day(days: dict[date, DayTotals], day: date) -> DayTotals:
    totals = days[day]
    totals.day = day
    return totals


def _count_document(totals: DayTotals, document: BookDocument) -> None:
    if document.kind == "refund":
        totals.refund_receipts += 1
        totals.refund_receipts_total += document.total
    elif document.voided:
        totals.voids += 1
    else:
        totals.receipts += 1
        totals.receipts_total += document.total


def _waiting(what: str, hub_state: str | None, error: str | None) -> tuple[Cause, str]:
    """Why the books do not show something the hub has (or has not) decided."""
    if hub_state is None:
        return Cause.NOT_POSTED, f"the hub has not read this {what} yet (run Sync All)"
    if hub_state == "refused" or (error and hub_state == "pending"):
        return Cause.REFUSED, error or "refused"
    if hub_state in ("pending", "uncertain"):
        return Cause.NOT_POSTED, f"this {what} waits to be sent (the next run sends it)"
    return Cause.MISSING_REVERSAL, f"the hub booked this {what}, the books do not show it"


def _check_sale(
    store_id: int, sale: WebSale, hub: HubOrder | None, mine: Mapping[str, BookDocument]
) -> list[Difference]:
    receipt = mine.get(idempotency_key(store_id, sale.web_id))
    if receipt is None:
        if sale.cancelled and (hub is None or hub.post_state != "posted"):
            return []  # cancelled before it reached the books: nothing to book
        state = None if hub is None else hub.post_state
        cause, why = _waiting("order", state, None if hub is None else hub.error)
        if cause is Cause.MISSING_REVERSAL:
            cause, why = Cause.MISSING_REVERSAL, "posted by the hub, no receipt in the books"
        return [Difference(sale.day, "order", sale.number, cause, why, sale.total)]
    found: list[Difference] = []
    if not receipt.voided and receipt.total != sale.total:
        found.append(
            Difference(
                sale.day,
                "order",
                sale.number,
                Cause.AMOUNT_DIFFERS,
                f"receipt {receipt.number} is {receipt.total:.2f}, the web order {sale.total:.2f}",
                sale.total,
                receipt.total,
            )
        )
    if sale.cancelled and not receipt.voided:
        found.extend(_check_cancel(store_id, sale, hub, mine))
    return found


def _check_cancel(
    store_id: int, sale: WebSale, hub: HubOrder | None, mine: Mapping[str, BookDocument]
) -> list[Difference]:
    reversals = () if hub is None else hub.reversals
    cancel = next((r for r in reversals if r.key == CANCEL_KEY), None)
    if cancel is None:
        refunded = sum((r.total for r in reversals if r.state == "done"), ZERO)
        if refunded >= sale.total:
            return []  # refunded whole, refund by refund
        why = "cancelled on the web; the receipt stands, neither voided nor refunded"
        return [Difference(sale.day, "cancellation", sale.number, Cause.MISSING_REVERSAL, why)]
    if cancel.kind == "refund":
        document = mine.get(reversal_idempotency_key(store_id, sale.web_id, cancel.seq))
        if document is not None:
            return _amounts("cancellation", sale.day, sale.number, cancel.total, document)
    cause, why = _waiting("cancellation", cancel.state, cancel.error)
    return [Difference(sale.day, "cancellation", sale.number, cause, why, cancel.total)]


def _check_refund(
    store_id: int, refund: WebRefundSeen, hub: HubOrder | None, mine: Mapping[str, BookDocument]
) -> list[Difference]:
    reversals: Sequence[HubReversal] = () if hub is None else hub.reversals
    recorded = next((r for r in reversals if r.key == f"refund-{refund.refund_id}"), None)
    label = f"{refund.refund_id} (order {refund.web_id})"
    if recorded is None:
        cause, why = _waiting("refund", None, None)
        return [Difference(refund.day, "refund", label, cause, why, refund.total)]
    document = mine.get(reversal_idempotency_key(store_id, refund.web_id, recorded.seq))
    if document is not None:
        return _amounts("refund", refund.day, label, refund.total, document)
    cause, why = _waiting("refund", recorded.state, recorded.error)
    return [Difference(refund.day, "refund", label, cause, why, refund.total)]


def _amounts(
    what: str, day: date, ref: str, expected: Decimal, document: BookDocument
) -> list[Difference]:
    if document.total == expected:
        return []
    return [
        Difference(
            day,
            what,
            ref,
            Cause.AMOUNT_DIFFERS,
            f"{document.kind} {document.number} is {document.total:.2f}, the web "
            f"{what} {expected:.2f}",
            expected,
            document.total,
        )
    ]
