"""Step 2, orders-out: each web order not yet posted becomes one back-office document.

Exactly once, across failures and crashes:
1. orders whose earlier attempt has an unknown outcome (``uncertain``) are looked up in
   the back office by reference first; found ones are recorded, never posted again;
2. the rest are marked ``uncertain`` and that is committed BEFORE the partner is called;
3. the partner gets each order's deterministic idempotency key;
4. documents are recorded (committed) after the partner confirms them. A refusal puts the
   order back to ``pending`` with the partner's message, to be tried by the next run.

Then the reversals (``domain.books``: voids and refund documents for posted orders the
web cancelled or refunded) go out the same way: uncertain ones looked up first, the rest
marked uncertain and committed before the partner is called, each under its own
deterministic key, recorded once confirmed. Reversals that cannot be booked (more than
was paid, a line the order lacks, an order never posted) are listed as item errors once.

Then the web store is told (status write-back, where configured) about every posted
order it has not taken yet, this run's and earlier runs' that failed, up to
``MAX_ACK_ATTEMPTS`` tries each. Write-back failures are reported, never undo a post.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from stockbridge.connectors.base import (
    BackOffice,
    PulledBackOffice,
    ReversingBackOffice,
    SnapshotBackOffice,
)
from stockbridge.connectors.errors import PartnerError, TransientPartnerError
from stockbridge.domain.books import ReversalKind, ReversalRequest, reversal_idempotency_key
from stockbridge.domain.model import ItemError, PostOutcome, PostRequest
from stockbridge.domain.orders import PendingOrder, PendingReversal, idempotency_key
from stockbridge.sync.context import StepContext, StepOutcome

__all__ = ["MAX_ACK_ATTEMPTS", "orders_out"]

MAX_ACK_ATTEMPTS = 5
ACK_PAGE = 250
REVERSALS_PAGE = 10


def orders_out(ctx: StepContext) -> StepOutcome:
    back_office = ctx.partners.back_office
    connection_id = ctx.partners.back_office_connection_id
    if back_office is None or connection_id is None:
        return StepOutcome("skipped", message="no back office connected")
    if isinstance(back_office, SnapshotBackOffice) and not back_office.accepts_orders:
        return StepOutcome("skipped", message="the back office takes no orders")
    if isinstance(back_office, PulledBackOffice) and back_office.waiting_for:
        # It posts when it calls the hub; the web store still hears of what it posted.
        refused = _acknowledge_posted(ctx)
        status = "partial" if refused else "skipped"
        return StepOutcome(status, failed=refused, message=back_office.waiting_for)
    store_id = ctx.store.id
    posted = failed = 0
    after = 0
    with ctx.uow() as uow:
        ctx.tracker.set_total(uow.orders.count_to_post(store_id))
    while True:
        with ctx.uow() as uow:
            batch = uow.orders.next_to_post(store_id, after, back_office.max_orders_per_call)
        if not batch:
            break
        after = batch[-1].row_id
        ok, refused = _post_batch(ctx, back_office, connection_id, batch)
        posted += ok
        failed += refused
        ctx.tracker.advance(len(batch))
        ctx.tracker.checkpoint()
    reversed_, refused, notes = _reverse(ctx, back_office, connection_id)
    failed += refused
    failed += _acknowledge_posted(ctx)
    message = "; ".join(notes[:20]) + (f"; and {len(notes) - 20} more" if len(notes) > 20 else "")
    return StepOutcome(
        "partial" if failed else "succeeded",
        done=posted + reversed_,
        failed=failed,
        written=posted + reversed_,
        message=f"reversed: {message}" if notes else None,
    )


def _reverse(
    ctx: StepContext, back_office: BackOffice, connection_id: int
) -> tuple[int, int, list[str]]:
    """Send the reversals of posted orders; returns (booked, failed, what was booked)."""
    store_id = ctx.store.id
    with ctx.uow() as uow:
        uow.orders.refuse_unposted_reversals(store_id)
        refusals = uow.orders.unreported_refusals(store_id)
        uow.commit()
    ctx.tracker.item_failed(
        [
            ItemError(f"order {number} reversal", reason, "reversal-refused")
            for number, reason in refusals
        ]
    )
    failed = len(refusals)
    if not isinstance(back_office, ReversingBackOffice):
        return 0, failed, []
    done = 0
    notes: list[str] = []
    after = 0
    while True:
        with ctx.uow() as uow:
            batch = uow.orders.next_reversals(store_id, connection_id, after, REVERSALS_PAGE)
        if not batch:
            return done, failed, notes
        after = batch[-1].row_id
        ok, refused, booked = _reverse_batch(ctx, back_office, batch)
        done += ok
        failed += refused
        notes.extend(booked)
        ctx.tracker.checkpoint()


def _describe(pending: PendingReversal, document: str) -> str:
    number = pending.order.number
    if pending.reversal.kind is ReversalKind.VOID:
        return f"order {number} voided (document {document})"
    refunded = pending.reversal.total
    return f"order {number} {pending.reversal.key} refunded {refunded} (document {document})"


def _reverse_batch(
    ctx: StepContext, back_office: ReversingBackOffice, batch: Sequence[PendingReversal]
) -> tuple[int, int, list[str]]:
    """Like ``_post_batch``, for reversals: uncertain ones looked up, the rest marked
    uncertain (committed) before they are sent."""
    books = ctx.store.books
    requests = {
        p.row_id: ReversalRequest(
            p.order,
            p.reversal,
            p.document_ref,
            p.seq,
            reversal_idempotency_key(ctx.store.id, p.order.web_id, p.seq),
            books,
        )
        for p in batch
    }
    by_key = {r.key: row_id for row_id, r in requests.items()}
    pending = {p.row_id: p for p in batch}
    booked: dict[int, str] = {}

    def record(found: dict[int, str]) -> None:
        if found:
            with ctx.uow() as uow:
                uow.orders.mark_reversals_done(found)
                uow.commit()
            booked.update(found)
            for row_id in found:
                requests.pop(row_id, None)

    def look_up(asked: list[ReversalRequest]) -> None:
        record({by_key[k]: doc for k, doc in back_office.find_reversals(asked).items()})

    try:
        uncertain = [requests[p.row_id] for p in batch if p.uncertain]
        if uncertain:
            look_up(uncertain)
        if requests:
            with ctx.uow() as uow:
                uow.orders.mark_reversals_uncertain(list(requests))
                uow.commit()
            try:
                outcomes = back_office.post_reversals(list(requests.values()))
            except TransientPartnerError:
                with suppress(TransientPartnerError):
                    look_up(list(requests.values()))
                raise
        else:
            outcomes = []
    except TransientPartnerError as exc:
        ctx.tracker.item_failed(
            [
                ItemError(
                    f"order {r.order.number} {r.reversal.key}",
                    f"back office did not answer; will be checked before sending again: {exc}",
                    exc.code,
                )
                for r in requests.values()
            ]
        )
        notes = [_describe(pending[row_id], doc) for row_id, doc in booked.items()]
        return len(booked), len(requests), notes
    answered = {o.web_id: o for o in outcomes}
    errors: list[ItemError] = []
    found: dict[int, str] = {}
    with ctx.uow() as uow:
        for row_id, request in requests.items():
            outcome = answered.get(request.key)
            label = f"order {request.order.number} {request.reversal.key}"
            if outcome is not None and outcome.document_ref is not None:
                found[row_id] = outcome.document_ref
            elif outcome is None:
                errors.append(ItemError(label, "back office gave no answer"))
            else:
                error = outcome.error or ItemError(label, "refused without a reason")
                uow.orders.mark_reversal_refused(row_id, error.message)
                errors.append(ItemError(label, error.message, error.code))
        uow.orders.mark_reversals_done(found)
        uow.commit()
    booked.update(found)
    ctx.tracker.item_failed(errors)
    notes = [_describe(pending[row_id], doc) for row_id, doc in booked.items()]
    return len(booked), len(errors), notes


def _post_batch(
    ctx: StepContext, back_office: BackOffice, connection_id: int, batch: Sequence[PendingOrder]
) -> tuple[int, int]:
    """Post one batch; returns (posted, refused). The connector has retried the call
    within its bound already; when its outcome is still unknown the orders are looked up
    at once, and those not found stay ``uncertain``: a later run looks them up again
    before it ever sends them.
    """
    store_id = ctx.store.id
    requests = {
        p.order.web_id: PostRequest(
            p.order, idempotency_key(store_id, p.order.web_id), ctx.store.books
        )
        for p in batch
    }
    row_ids = {p.order.web_id: p.row_id for p in batch}
    to_check = [requests[p.order.web_id] for p in batch if p.uncertain]
    posted = 0
    try:
        if to_check:
            posted += _look_up(ctx, back_office, connection_id, requests, to_check)
        # An uncertain order cancelled on the web since: looked up above, never posted.
        cancelled = [w for w, r in requests.items() if not r.order.status.postable]
        if cancelled:
            with ctx.uow() as uow:
                uow.orders.mark_not_postable([row_ids[w] for w in cancelled])
                uow.commit()
            for web_id in cancelled:
                requests.pop(web_id)
        if not requests:
            return posted, 0
        with ctx.uow() as uow:
            uow.orders.mark_uncertain([row_ids[w] for w in requests])
            uow.commit()
        try:
            outcomes = back_office.post_orders(list(requests.values()))
        except TransientPartnerError:
            # Taken or not? Ask (a read) rather than send again; if the look-up fails too,
            # a later run asks before it sends.
            with suppress(TransientPartnerError):
                posted += _look_up(ctx, back_office, connection_id, requests, [*requests.values()])
            raise
    except TransientPartnerError as exc:
        ctx.tracker.item_failed(
            [
                ItemError(
                    f"order {r.order.number}",
                    f"back office did not answer; will be checked before posting again: {exc}",
                    exc.code,
                )
                for r in requests.values()
            ]
        )
        return posted, len(requests)
    ok, refused = _record_outcomes(ctx, connection_id, requests, outcomes)
    return posted + ok, refused


def _look_up(
    ctx: StepContext,
    back_office: BackOffice,
    connection_id: int,
    requests: dict[str, PostRequest],
    to_check: list[PostRequest],
) -> int:
    """Record the orders of ``to_check`` the back office has (and drop them from
    ``requests``); returns how many."""
    found = dict(back_office.find_posted(to_check))
    _record_posted(ctx, connection_id, found)
    for web_id in found:
        requests.pop(web_id, None)
    return len(found)


def _record_posted(ctx: StepContext, connection_id: int, documents: dict[str, str]) -> None:
    if documents:
        with ctx.uow() as uow:
            uow.orders.mark_posted(ctx.store.id, connection_id, documents)
            uow.commit()


def _acknowledge_posted(ctx: StepContext) -> int:
    """Status write-back for posted orders the web store has not taken; returns how many
    it refused this time (each reported, and tried again by a later run)."""
    web = ctx.partners.web
    if web is None:
        return 0
    refused_total = 0
    after = 0
    while True:
        with ctx.uow() as uow:
            rows = uow.orders.to_acknowledge(ctx.store.id, MAX_ACK_ATTEMPTS, after, ACK_PAGE)
        if not rows:
            return refused_total
        after = rows[-1][0]
        page = [web_id for _row_id, web_id in rows]
        try:
            result = web.acknowledge_orders(page)
            refused = {e.key for e in result.errors}
            errors = [ItemError(f"order {e.key} status", e.message, e.code) for e in result.errors]
        except PartnerError as exc:  # which ones it took is unknown; setting again is safe
            refused = set(page)
            errors = [ItemError("status write-back", str(exc), exc.code)]
        with ctx.uow() as uow:
            uow.orders.mark_acknowledged(
                ctx.store.id, [w for w in page if w not in refused], sorted(refused)
            )
            uow.commit()
        ctx.tracker.item_failed(errors)
        refused_total += len(refused)


def _record_outcomes(
    ctx: StepContext,
    connection_id: int,
    requests: dict[str, PostRequest],
    outcomes: Sequence[PostOutcome],
) -> tuple[int, int]:
    by_id = {o.web_id: o for o in outcomes}
    documents: dict[str, str] = {}
    errors: list[ItemError] = []
    with ctx.uow() as uow:
        for web_id, request in requests.items():
            outcome = by_id.get(web_id)
            if outcome is not None and outcome.document_ref is not None:
                documents[web_id] = outcome.document_ref
                continue
            if outcome is None:
                # The partner did not answer for it: keep it uncertain, look it up next run.
                errors.append(
                    ItemError(f"order {request.order.number}", "back office gave no answer")
                )
                continue
            error = outcome.error or ItemError(web_id, "refused without a reason")
            message = error.message
            uow.orders.mark_refused(ctx.store.id, web_id, message)
            errors.append(ItemError(f"order {request.order.number}", message, error.code))
        uow.orders.mark_posted(ctx.store.id, connection_id, documents)
        uow.commit()
    ctx.tracker.item_failed(errors)
    return len(documents), len(errors)
