"""What a web order's life after posting does to the books: the reversals.

A posted order is never posted again, but what the web does to it afterwards reaches the
back office as reversals, each exactly once (its ``key`` is unique per order):

- every refund the web store made (``refund-<id>``) becomes a refund document for
  exactly its lines, shipping and tax, restocking the returned quantities;
- an order cancelled (or marked refunded, declined) on the web after it was posted is
  reversed whole (``cancel``): voided when nothing of it was refunded yet and the store
  chose ``void``; otherwise a refund document for what the refunds have not covered.

Refunds are recorded as soon as the hub sees them (even before the order is posted: they
wait for it); a refund that cannot be booked (more than was paid, a line the order does
not have, an amount tied to no line) is refused with the reason, and nothing of it moves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from stockbridge.domain.model import BooksOptions, CancelAs, OrderLine, WebOrder, WebRefund

__all__ = [
    "CANCEL_KEY",
    "Refused",
    "Reversal",
    "ReversalKind",
    "ReversalLine",
    "ReversalPlan",
    "ReversalRequest",
    "plan_reversals",
    "refund_key",
    "revenue",
    "reversal_idempotency_key",
]

CANCEL_KEY = "cancel"
ZERO = Decimal("0")


class ReversalKind(StrEnum):
    VOID = "void"  # the posted document is voided
    REFUND = "refund"  # a refund document (QuickBooks: RefundReceipt)


@dataclass(frozen=True, slots=True)
class ReversalLine:
    """``quantity`` of ``sku`` given back, for ``amount`` (excluding tax)."""

    sku: str
    quantity: int
    amount: Decimal
    name: str = ""


@dataclass(frozen=True, slots=True)
class Reversal:
    """One reversal of a posted order. ``total`` = lines + shipping - discount + tax."""

    key: str
    kind: ReversalKind
    lines: tuple[ReversalLine, ...]
    shipping: Decimal
    tax: Decimal
    total: Decimal
    discount: Decimal = ZERO

    @property
    def restock(self) -> tuple[OrderLine, ...]:
        """The quantities this reversal puts back on stock."""
        return tuple(
            OrderLine(line.sku, line.quantity, ZERO, line.name)
            for line in self.lines
            if line.quantity > 0
        )


@dataclass(frozen=True, slots=True)
class Refused:
    """A reversal that cannot be booked, and why (in the merchant's words)."""

    key: str
    message: str


@dataclass(frozen=True, slots=True)
class ReversalPlan:
    reversals: tuple[Reversal, ...] = ()
    refused: tuple[Refused, ...] = ()


@dataclass(frozen=True, slots=True)
class ReversalRequest:
    """One reversal to send: of ``order`` (whose posted document is ``document_ref``),
    the ``seq``-th reversal recorded for it, under the deterministic ``key``."""

    order: WebOrder
    reversal: Reversal
    document_ref: str
    seq: int
    key: str
    books: BooksOptions = field(default_factory=BooksOptions)


def reversal_idempotency_key(store_id: int, web_id: str, seq: int) -> str:
    """The same key for the same reversal of the same (store, web order), always."""
    key = f"sbr-{store_id}-{web_id}-{seq}"
    if len(key) > 50:
        raise ValueError(f"web order id too long for an idempotency key: {web_id!r}")
    return key


def refund_key(refund: WebRefund) -> str:
    return f"refund-{refund.refund_id}"


def revenue(order: WebOrder) -> Decimal:
    """What the order books as sales revenue: what was paid less tax and shipping."""
    return order.total - order.tax - order.shipping


def plan_reversals(
    order: WebOrder,
    *,
    posted: bool,
    recorded: Iterable[Reversal],
    refused_keys: Iterable[str] = (),
    cancel_as: CancelAs = CancelAs.VOID,
) -> ReversalPlan:
    """The reversals ``order`` (the newest copy) needs beyond those ``recorded`` (or
    refused) already. ``posted``: the back office holds the order's document."""
    done = list(recorded)
    seen = {r.key for r in done} | set(refused_keys)
    by_line = {line.line_id: line for line in order.lines if line.line_id}
    new: list[Reversal] = []
    refused: list[Refused] = []
    for refund in order.refunds:
        key = refund_key(refund)
        if key in seen:
            continue
        seen.add(key)
        outcome = _refund(order, refund, key, by_line, [*done, *new])
        if isinstance(outcome, Refused):
            refused.append(outcome)
        else:
            new.append(outcome)
    if posted and not order.status.postable and CANCEL_KEY not in seen:
        cancel = _cancel(order, [*done, *new], cancel_as)
        if isinstance(cancel, Refused):
            refused.append(cancel)
        elif cancel is not None:
            new.append(cancel)
    return ReversalPlan(tuple(new), tuple(refused))


def _refund(
    order: WebOrder,
    refund: WebRefund,
    key: str,
    by_line: dict[str, OrderLine],
    before: list[Reversal],
) -> Reversal | Refused:
    name = f"refund {refund.refund_id} of order {order.number}"
    if refund.total <= 0:
        return Refused(key, f"{name}: refunds nothing ({refund.total})")
    refunded = sum((r.total for r in before), ZERO)
    if refunded + refund.total > order.total:
        return Refused(
            key,
            f"{name} is for more than was paid: {refund.total} refunded on top of "
            f"{refunded}, the order's total is {order.total}",
        )
    returned: Counter[str] = Counter()
    for reversal in before:
        for done in reversal.lines:
            returned[done.sku] += done.quantity
    lines: list[ReversalLine] = []
    for part in refund.lines:
        line = by_line.get(part.line_id)
        if line is None:
            return Refused(key, f"{name}: line {part.line_id} is not a line of the order")
        if part.quantity < 0 or part.amount < 0:
            return Refused(key, f"{name}: line {part.line_id} has a negative quantity or amount")
        if returned[line.sku] + part.quantity > line.quantity:
            return Refused(
                key,
                f"{name}: returns {part.quantity} of SKU {line.sku}, but the order has "
                f"{line.quantity} and {returned[line.sku]} were returned before",
            )
        returned[line.sku] += part.quantity
        lines.append(ReversalLine(line.sku, part.quantity, part.amount, line.name))
    parts = sum((line.amount for line in lines), ZERO) + refund.shipping + refund.tax
    if parts != refund.total:
        return Refused(
            key,
            f"{name}: its lines, shipping and tax come to {parts}, but it paid back "
            f"{refund.total}; an amount tied to no line cannot be booked, book it by hand",
        )
    return Reversal(key, ReversalKind.REFUND, tuple(lines), refund.shipping, refund.tax, parts)


def _cancel(
    order: WebOrder, before: list[Reversal], cancel_as: CancelAs
) -> Reversal | Refused | None:
    """What reverses the rest of a posted order cancelled on the web."""
    if not before and cancel_as is CancelAs.VOID:
        lines = tuple(
            ReversalLine(li.sku, li.quantity, li.unit_price * li.quantity, li.name)
            for li in order.lines
        )
        return Reversal(
            CANCEL_KEY,
            ReversalKind.VOID,
            lines,
            order.shipping,
            order.tax,
            order.total,
            order.discount,
        )
    quantities: Counter[str] = Counter()
    amounts: dict[str, Decimal] = {}
    for reversal in before:
        for line in reversal.lines:
            quantities[line.sku] += line.quantity
            amounts[line.sku] = amounts.get(line.sku, ZERO) + line.amount
    lines_left: list[ReversalLine] = []
    for li in order.lines:
        quantity = max(0, li.quantity - quantities[li.sku])
        amount = li.unit_price * li.quantity - amounts.get(li.sku, ZERO)
        quantities[li.sku] = max(0, quantities[li.sku] - li.quantity)
        amounts[li.sku] = max(ZERO, amounts.get(li.sku, ZERO) - li.unit_price * li.quantity)
        if quantity or amount > 0:
            lines_left.append(ReversalLine(li.sku, quantity, max(amount, ZERO), li.name))
    shipping = max(ZERO, order.shipping - sum((r.shipping for r in before), ZERO))
    tax = max(ZERO, order.tax - sum((r.tax for r in before), ZERO))
    total = order.total - sum((r.total for r in before), ZERO)
    if total <= 0:
        return None
    discount = sum((li.amount for li in lines_left), ZERO) + shipping + tax - total
    if discount < 0:
        return Refused(
            CANCEL_KEY,
            f"cancelled order {order.number}: what is left to refund ({total}) is more than "
            "its lines, shipping and tax; book it by hand",
        )
    return Reversal(
        CANCEL_KEY, ReversalKind.REFUND, tuple(lines_left), shipping, tax, total, discount
    )
