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
from decimal import ROUND_HALF_UP, Decimal
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
CENT = Decimal("0.01")


class ReversalKind(StrEnum):
    VOID = "void"  # the posted document is voided
    REFUND = "refund"  # a refund document (QuickBooks: RefundReceipt)


@dataclass(frozen=True, slots=True)
class ReversalLine:
    """``quantity`` of ``sku`` given back, for ``amount`` (excluding tax); ``line_id``:
    the order line it returns (returns are counted per line)."""

    sku: str
    quantity: int
    amount: Decimal
    name: str = ""
    line_id: str = ""


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
    """One refund as the books take it. Amount-bound parts carry their money; the
    quantity-bound product parts (BigCommerce's ``requested_amount: null``) share what is
    left of the refund once tax, shipping, the order-level amount and the amount-bound
    parts are taken out: each is booked at its line's price, and what the buyer did not
    pay of that price (a discount the order had) is the refund's discount."""
    name = f"refund {refund.refund_id} of order {order.number}"
    problem = _refund_problem(order, refund, name, before)
    if problem is not None:
        return Refused(key, problem)
    returned, _amounts = _returned(order, before)
    lines: list[ReversalLine] = []
    by_quantity: list[ReversalLine] = []
    for part in refund.lines:
        line = by_line.get(part.line_id)
        if line is None:
            return Refused(key, f"{name}: line {part.line_id} is not a line of the order")
        if part.quantity < 0 or (part.amount is not None and part.amount < 0):
            return Refused(key, f"{name}: line {part.line_id} has a negative quantity or amount")
        if returned[_line_key(line)] + part.quantity > line.quantity:
            return Refused(
                key,
                f"{name}: returns {part.quantity} of SKU {line.sku}, but the order line has "
                f"{line.quantity} and {returned[_line_key(line)]} were returned before",
            )
        returned[_line_key(line)] += part.quantity
        if part.amount is None:
            worth = _cents(line.unit_price * part.quantity)
            by_quantity.append(_returning(line, part.quantity, worth))
        else:
            lines.append(_returning(line, part.quantity, part.amount))
    outside = refund.tax + refund.shipping + refund.order_amount
    left = refund.total - outside - sum((li.amount for li in lines), ZERO)
    worth = sum((li.amount for li in by_quantity), ZERO)
    if not by_quantity and left != 0:
        parts = refund.total - left
        return Refused(
            key,
            f"{name}: its lines, shipping and tax come to {parts:.2f}, but it paid back "
            f"{refund.total:.2f}; an amount tied to no line cannot be booked, book it by hand",
        )
    if by_quantity and not ZERO <= left <= worth:
        return Refused(
            key,
            f"{name}: {left:.2f} is left for the returned lines once tax, shipping and the "
            f"amounts are taken out, but those lines are worth {worth:.2f} at the order's "
            "prices; book it by hand",
        )
    spread = _spread(order, refund.order_amount)
    if spread is None:
        return Refused(key, f"{name}: an order-level amount on an order with no priced line")
    discount = worth - left if by_quantity else ZERO
    return Reversal(
        key,
        ReversalKind.REFUND,
        (*by_quantity, *lines, *spread),
        refund.shipping,
        refund.tax,
        refund.total,
        discount,
    )


def _refund_problem(
    order: WebOrder, refund: WebRefund, name: str, before: list[Reversal]
) -> str | None:
    """Why a refund cannot be booked whatever its lines say, or None."""
    if refund.total <= 0:
        return f"{name}: refunds nothing ({refund.total:.2f})"
    refunded = sum((r.total for r in before), ZERO)
    if refunded + refund.total > order.total:
        return (
            f"{name} is for more than was paid: {refund.total:.2f} refunded on top of "
            f"{refunded:.2f}, the order's total is {order.total:.2f}"
        )
    if refund.unbookable:
        kinds = ", ".join(sorted(set(refund.unbookable)))
        return f"{name}: items of kind {kinds} name nothing the books hold; book it by hand"
    if min(refund.tax, refund.shipping, refund.order_amount, refund.tax_items) < 0:
        return f"{name}: a negative tax, shipping or order-level amount; book it by hand"
    if refund.tax_items > refund.tax:
        return (
            f"{name}: its tax items come to {refund.tax_items:.2f}, more than the "
            f"{refund.tax:.2f} of tax it paid back"
        )
    return None


def _returning(line: OrderLine, quantity: int, amount: Decimal) -> ReversalLine:
    return ReversalLine(line.sku, quantity, amount, line.name, line.line_id)


def _line_key(line: OrderLine) -> str:
    return line.line_id or f"sku:{line.sku}"


def _returned(
    order: WebOrder, before: Iterable[Reversal]
) -> tuple[Counter[str], dict[str, Decimal]]:
    """Quantities and amounts of each order line earlier reversals took back. A reversal
    recorded before lines were told apart names only the SKU: it counts on the order's
    first line with that SKU."""
    first: dict[str, str] = {}
    for li in order.lines:
        first.setdefault(li.sku, _line_key(li))
    quantities: Counter[str] = Counter()
    amounts: dict[str, Decimal] = {}
    for reversal in before:
        for done in reversal.lines:
            key = done.line_id or first.get(done.sku, f"sku:{done.sku}")
            quantities[key] += done.quantity
            amounts[key] = amounts.get(key, ZERO) + done.amount
    return quantities, amounts


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _spread(order: WebOrder, amount: Decimal) -> tuple[ReversalLine, ...] | None:
    """An order-level amount as money-only lines over the order's lines, in proportion
    to their value, to the cent (largest remainders take the odd cents)."""
    if amount == 0:
        return ()
    values = [(li, li.unit_price * li.quantity) for li in order.lines]
    whole = sum((v for _li, v in values), ZERO)
    if whole <= 0:
        return None
    cents = int((amount / CENT).to_integral_value())
    exact = [cents * v / whole for _li, v in values]
    shares = [int(x) for x in exact]
    order_by = sorted(range(len(exact)), key=lambda i: (shares[i] - exact[i], i))
    for i in order_by[: cents - sum(shares)]:
        shares[i] += 1
    return tuple(
        ReversalLine(li.sku, 0, share * CENT, li.name, li.line_id)
        for (li, _v), share in zip(values, shares, strict=True)
        if share
    )


def _cancel(
    order: WebOrder, before: list[Reversal], cancel_as: CancelAs
) -> Reversal | Refused | None:
    """What reverses the rest of a posted order cancelled on the web."""
    if not before and cancel_as is CancelAs.VOID:
        lines = tuple(
            ReversalLine(li.sku, li.quantity, li.unit_price * li.quantity, li.name, li.line_id)
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
    quantities, amounts = _returned(order, before)
    lines_left: list[ReversalLine] = []
    for li in order.lines:
        quantity = max(0, li.quantity - quantities[_line_key(li)])
        amount = li.unit_price * li.quantity - amounts.get(_line_key(li), ZERO)
        if quantity or amount > 0:
            lines_left.append(
                ReversalLine(li.sku, quantity, max(amount, ZERO), li.name, li.line_id)
            )
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
