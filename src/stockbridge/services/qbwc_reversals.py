"""The mailbox's reversals phase: web orders cancelled or refunded after they were posted
(``domain.books`` decides each reversal; the hub records them pending) reach QuickBooks
once, through the Web Connector session.

Desktop: a cancellation voids the sales receipt (TxnVoidRq). A void is idempotent (a
voided receipt stays voided), so a void whose answer was lost is sent again. A refund
becomes a credit memo (CreditMemoAddRq) for exactly its lines, shipping, discount and
tax, our key in its Memo: marked uncertain in the hand-over transaction, and an
uncertain one is looked up (CreditMemoQueryRq, the key matched exactly) before it is
ever sent again. The money paid back is left to the merchant (docs/facts-qbwc.md).

Point of Sale: a return receipt (SalesReceiptType Return) for what was given back, our
key in its Comments: marked uncertain in the hand-over transaction, and an uncertain
one is looked up by that key (exactly) before it is ever sent again. Money paid back on
no returned item is folded into the return's prices and discount (``qbposxml``); a
refund of money without any item returned is refused with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stockbridge.connectors.qbwc.connector import QbwcSetup
from stockbridge.db.models import Order, OrderReversal, QbwcExchange, QbwcSession
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.books import ReversalKind, ReversalRequest, reversal_idempotency_key
from stockbridge.domain.orders import PendingReversal

__all__ = ["apply_reversal_answer", "next_reversals"]


def _requests(
    uow: UnitOfWork, store_id: int, batch: list[PendingReversal]
) -> dict[int, ReversalRequest]:
    store = uow.stores.settings(store_id)
    assert store is not None
    return {
        p.row_id: ReversalRequest(
            p.order,
            p.reversal,
            p.document_ref,
            p.seq,
            reversal_idempotency_key(store_id, p.order.web_id, p.seq),
            store.books,
        )
        for p in batch
    }


def next_reversals(
    uow: UnitOfWork,
    row: QbwcSession,
    setup: QbwcSetup,
    state: dict[str, Any],
    exchange: Callable[[str, dict[str, Any]], None],
) -> str | None:
    """The next request of the phase (``exchange(kind, covers)`` records it in flight);
    None when no reversal is left for this session."""
    store_id = row.store_id
    refs: dict[str, str] = state.get("refs", {})
    cleared = set(state.get("rev_cleared", []))
    while True:
        batch = uow.orders.next_reversals(
            store_id, row.connection_id, int(state.get("rev_after", 0)), setup.batch_size
        )
        if not batch:
            return None
        requests = _requests(uow, store_id, list(batch))
        to_check = [
            p.row_id
            for p in batch
            if p.uncertain
            and str(p.row_id) not in cleared
            and (setup.pos or p.reversal.kind is ReversalKind.REFUND)  # a void is re-sent
        ]
        if to_check:
            exchange("find_rev", {"reversals": to_check})
            return setup.find_returns_request([requests[r] for r in to_check])
        state["rev_after"] = batch[-1].row_id
        sendable: list[int] = []
        for pending in batch:
            request = requests[pending.row_id]
            why = setup.unreversible(request, refs)
            if why is not None:
                uow.orders.mark_reversal_refused(pending.row_id, why)
            else:
                sendable.append(pending.row_id)
        if not sendable:
            continue
        uow.orders.mark_reversals_uncertain(sendable)
        if setup.pos:
            exchange("return", {"reversals": sendable})
            return setup.return_request([requests[r] for r in sendable], refs)
        exchange("reverse", {"reversals": sendable})
        return setup.reverse_request([requests[r] for r in sendable], refs)


def apply_reversal_answer(
    uow: UnitOfWork,
    row: QbwcSession,
    setup: QbwcSetup,
    exchange: QbwcExchange,
    answer: str,
    state: dict[str, Any],
) -> None:
    """Apply QuickBooks' answer to Desktop's voids and credit memos, POS's returns, or
    the look-up of either."""
    row_ids = [int(r) for r in (exchange.covers or {}).get("reversals", [])]
    by_row = {r: reversal_idempotency_key(row.store_id, *_order_and_seq(uow, r)) for r in row_ids}
    if exchange.kind in ("void", "reverse"):
        outcomes = setup.read_reversals(answer, len(row_ids))
        done: dict[int, str] = {}
        for index, result in outcomes.items():
            if isinstance(result, str):
                done[row_ids[index]] = result
            else:
                uow.orders.mark_reversal_refused(row_ids[index], result.message)
        uow.orders.mark_reversals_done(done)
        return
    if exchange.kind == "return":
        keys = [by_row[r] for r in row_ids]
        answered = setup.read_returns(answer, keys)
        done = {}
        for row_id, key in zip(row_ids, keys, strict=True):
            returned = answered.get(key)  # absent: unknown, looked up next session
            if isinstance(returned, str):
                done[row_id] = returned
            elif returned is not None:
                uow.orders.mark_reversal_refused(row_id, returned.message)
        uow.orders.mark_reversals_done(done)
        return
    # find_rev: the uncertain returns (credit memos) QuickBooks holds are done; the rest
    # may be sent.
    batch = uow.orders.next_reversals(
        row.store_id, row.connection_id, min(row_ids) - 1, len(row_ids) + 50
    )
    wanted = [p for p in batch if p.row_id in set(row_ids)]
    requests = _requests(uow, row.store_id, wanted)
    found = setup.read_found_returns(answer, [requests[p.row_id] for p in wanted])
    row_of_key = {requests[p.row_id].key: p.row_id for p in wanted}
    uow.orders.mark_reversals_done({row_of_key[k]: txn for k, txn in found.items()})
    state["rev_cleared"] = sorted(
        {*state.get("rev_cleared", []), *(str(r) for r in row_ids if by_row[r] not in found)}
    )


def _order_and_seq(uow: UnitOfWork, row_id: int) -> tuple[str, int]:
    reversal = uow.session.get(OrderReversal, row_id)
    assert reversal is not None
    order = uow.session.get(Order, reversal.order_id)
    assert order is not None
    return order.web_id, reversal.seq
