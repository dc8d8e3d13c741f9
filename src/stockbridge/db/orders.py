"""Web orders in the hub and their way to the back office (``PostState``).

The repository loads an order's state, lets ``domain.orders`` decide, and stores the
decision.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from stockbridge.db.catalog import POSTABLE_STATUSES, CatalogRepository
from stockbridge.db.models import Order, OrderLineRow, OrderReversal, PartnerLink, Store
from stockbridge.domain.batching import batched
from stockbridge.domain.books import (
    Reversal,
    ReversalKind,
    ReversalLine,
    ReversalPlan,
    plan_reversals,
)
from stockbridge.domain.model import CancelAs, OrderLine, WebOrder, WebOrderStatus
from stockbridge.domain.orders import (
    OrderState,
    PendingOrder,
    PendingReversal,
    PostState,
    ReversalRecord,
    apply_web_order,
)
from stockbridge.domain.reconcile import HubOrder, HubReversal

#: Pending orders that belong in the back office, and every uncertain one: an order
#: cancelled after an attempt must still be looked up.
_TO_POST = or_(
    and_(Order.post_state == PostState.PENDING.value, Order.status.in_(POSTABLE_STATUSES)),
    Order.post_state == PostState.UNCERTAIN.value,
)

#: Web states in which the hub still tells the web store that an order was posted.
_ACKNOWLEDGEABLE = (WebOrderStatus.AWAITING_PAYMENT.value, WebOrderStatus.OPEN.value)

__all__ = ["OrderRepository", "PendingOrder"]


def _state_of(row: Order) -> OrderState:
    return OrderState(
        WebOrderStatus(row.status), PostState(row.post_state), row.modified_at, row.posted_at
    )


def _lines_of(order: WebOrder, row_id: int) -> list[OrderLineRow]:
    return [
        OrderLineRow(
            order_id=row_id,
            line_no=n,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_id=line.line_id,
        )
        for n, line in enumerate(order.lines, start=1)
    ]


def _detail(reversal: Reversal) -> dict[str, object]:
    return {
        "lines": [
            [li.sku, li.quantity, str(li.amount), li.name, li.line_id] for li in reversal.lines
        ],
        "shipping": str(reversal.shipping),
        "tax": str(reversal.tax),
        "total": str(reversal.total),
        "discount": str(reversal.discount),
    }


def _reversal_of(row: OrderReversal) -> Reversal:
    detail = row.detail
    return Reversal(
        key=row.key,
        kind=ReversalKind(row.kind),
        lines=tuple(
            ReversalLine(
                str(line[0]),
                int(line[1]),
                Decimal(str(line[2])),
                str(line[3]),
                str(line[4]) if len(line) > 4 else "",  # recorded before lines had ids
            )
            for line in detail.get("lines", [])
        ),
        shipping=Decimal(str(detail.get("shipping", "0"))),
        tax=Decimal(str(detail.get("tax", "0"))),
        total=Decimal(str(detail.get("total", "0"))),
        discount=Decimal(str(detail.get("discount", "0"))),
    )


def _web_order(row: Order, lines: Sequence[OrderLineRow]) -> WebOrder:
    return WebOrder(
        web_id=row.web_id,
        number=row.number,
        status=WebOrderStatus(row.status),
        modified_at=row.modified_at,
        lines=tuple(
            OrderLine(li.sku, li.quantity, li.unit_price, li.name, li.line_id) for li in lines
        ),
        placed_at=row.placed_at,
        currency=row.currency,
        total=row.total,
        shipping=row.shipping,
        discount=row.discount,
        customer_email=row.customer_email,
        tax=row.tax,
        billing_name=row.billing_name,
        payment_method=row.payment_method,
    )


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.catalog = CatalogRepository(session)

    def apply_page(self, store_id: int, orders: Sequence[WebOrder]) -> int:
        """Apply each copy as ``domain.orders.apply_web_order`` decides: store the order
        with its new post state, take or give back hub-managed stock, and forget what was
        last sent for SKUs whose web stock moved. Stale copies change nothing. Returns how
        many orders changed the hub.
        """
        ids = [o.web_id for o in orders]
        existing = {
            row.web_id: row
            for row in self.session.scalars(
                select(Order).where(Order.store_id == store_id, Order.web_id.in_(ids))
            )
        }
        now = datetime.now(UTC)
        changed = 0
        web_moved: set[str] = set()
        taken: list[OrderLine] = []
        given_back: list[OrderLine] = []
        applied: list[tuple[WebOrder, Order]] = []
        for order in orders:
            row = existing.get(order.web_id)
            change = apply_web_order(None if row is None else _state_of(row), order)
            if change.ignored:
                continue
            changed += 1
            if row is None:
                row = Order(store_id=store_id, web_id=order.web_id, created_at=now, post_attempts=0)
                self.session.add(row)
            else:
                self.session.execute(delete(OrderLineRow).where(OrderLineRow.order_id == row.id))
            row.post_state = change.post_state.value
            row.number = order.number
            row.status = order.status.value
            row.placed_at = order.placed_at
            row.modified_at = order.modified_at
            row.currency = order.currency
            row.total = order.total
            row.shipping = order.shipping
            row.discount = order.discount
            row.customer_email = order.customer_email
            row.tax = order.tax
            row.billing_name = order.billing_name
            row.payment_method = order.payment_method
            applied.append((order, row))
            taken.extend(change.stock_taken)
            given_back.extend(change.stock_given_back)
            web_moved.update(change.web_stock_moved)
        self.session.flush()  # one flush for the page: every new row gets its id
        for order, row in applied:
            self.session.add_all(_lines_of(order, row.id))
        if applied:
            cancel_as = self._cancel_as(store_id)
            recorded = self._reversals_by_order([row.id for _order, row in applied])
            for order, row in applied:
                plan = plan_reversals(
                    order,
                    posted=row.post_state == PostState.POSTED.value,
                    recorded=[
                        _reversal_of(r) for r in recorded.get(row.id, []) if r.state != "refused"
                    ],
                    refused_keys=[r.key for r in recorded.get(row.id, []) if r.state == "refused"],
                    cancel_as=cancel_as,
                )
                self._record_plan(row.id, plan, recorded.get(row.id, []))
        self.catalog.adjust_hub_managed(store_id, taken, -1)
        self.catalog.adjust_hub_managed(store_id, given_back, +1)
        self.catalog.forget_sent(store_id, web_moved)
        return changed

    # reversals --------------------------------------------------------------------

    def _cancel_as(self, store_id: int) -> CancelAs:
        value = self.session.scalar(select(Store.cancel_as).where(Store.id == store_id))
        return CancelAs(value or CancelAs.VOID.value)

    def _reversals_by_order(self, order_ids: Sequence[int]) -> dict[int, list[OrderReversal]]:
        found: dict[int, list[OrderReversal]] = {}
        for row in self.session.scalars(
            select(OrderReversal)
            .where(OrderReversal.order_id.in_(list(order_ids)))
            .order_by(OrderReversal.seq)
        ):
            found.setdefault(row.order_id, []).append(row)
        return found

    def _record_plan(
        self, order_id: int, plan: ReversalPlan, existing: Sequence[OrderReversal]
    ) -> None:
        """Store what ``plan`` decided (reversals pending, refusals with their reason)."""
        now = datetime.now(UTC)
        seq = max((r.seq for r in existing), default=0)
        for reversal in plan.reversals:
            seq += 1
            self.session.add(
                OrderReversal(
                    order_id=order_id,
                    seq=seq,
                    key=reversal.key,
                    kind=reversal.kind.value,
                    state="pending",
                    detail=_detail(reversal),
                    attempts=0,
                    reported=False,
                    created_at=now,
                )
            )
        for refused in plan.refused:
            seq += 1
            self.session.add(
                OrderReversal(
                    order_id=order_id,
                    seq=seq,
                    key=refused.key,
                    kind=ReversalKind.REFUND.value,
                    state="refused",
                    detail={},
                    last_error=refused.message,
                    attempts=0,
                    reported=False,
                    created_at=now,
                )
            )

    def _plan_after_post(self, store_id: int, rows: Sequence[Order]) -> None:
        """An order found posted (after a look-up) that the web cancelled meanwhile: plan
        its reversal now, as orders-in would have had it been posted then."""
        stopped = [row for row in rows if row.status not in POSTABLE_STATUSES]
        if not stopped:
            return
        cancel_as = self._cancel_as(store_id)
        recorded = self._reversals_by_order([row.id for row in stopped])
        for row in stopped:
            lines = self.session.scalars(
                select(OrderLineRow)
                .where(OrderLineRow.order_id == row.id)
                .order_by(OrderLineRow.line_no)
            ).all()
            mine = recorded.get(row.id, [])
            plan = plan_reversals(
                _web_order(row, lines),
                posted=True,
                recorded=[_reversal_of(r) for r in mine if r.state != "refused"],
                refused_keys=[r.key for r in mine if r.state == "refused"],
                cancel_as=cancel_as,
            )
            self._record_plan(row.id, plan, mine)

    def refuse_unposted_reversals(self, store_id: int) -> int:
        """Reversals of orders that never reached the back office (cancelled or refunded
        before they were posted) have nothing to reverse: refused, with the reason."""
        rows = self.session.scalars(
            select(OrderReversal)
            .join(Order, Order.id == OrderReversal.order_id)
            .where(
                Order.store_id == store_id,
                Order.post_state == PostState.NOT_POSTABLE.value,
                OrderReversal.state == "pending",
            )
        ).all()
        for row in rows:
            row.state = "refused"
            row.last_error = (
                f"{row.key} of an order that was never posted to the back office: "
                "there is nothing to reverse"
            )
        return len(rows)

    def unreported_refusals(self, store_id: int) -> list[tuple[str, str]]:
        """(order number, reason) of refused reversals not listed in a run yet; they are
        marked listed (commit with the run's record of them)."""
        rows = self.session.execute(
            select(OrderReversal, Order.number)
            .join(Order, Order.id == OrderReversal.order_id)
            .where(
                Order.store_id == store_id,
                OrderReversal.state == "refused",
                OrderReversal.reported.is_(False),
            )
            .order_by(OrderReversal.id)
        ).all()
        for reversal, _number in rows:
            reversal.reported = True
        return [(number, reversal.last_error or "refused") for reversal, number in rows]

    def _reversals_to_send(self, store_id: int):  # type: ignore[no-untyped-def]
        return (
            select(OrderReversal, Order)
            .join(Order, Order.id == OrderReversal.order_id)
            .where(
                Order.store_id == store_id,
                Order.post_state == PostState.POSTED.value,
                OrderReversal.state.in_(("pending", "uncertain")),
            )
        )

    def count_reversals(self, store_id: int) -> int:
        query = self._reversals_to_send(store_id).subquery()
        return int(self.session.scalar(select(func.count()).select_from(query)) or 0)

    def next_reversals(
        self, store_id: int, connection_id: int, after_id: int, limit: int
    ) -> list[PendingReversal]:
        """Reversals of posted orders to send (pending, or uncertain: look them up
        first), by id after ``after_id``, with the order and its posted document."""
        rows = self.session.execute(
            self._reversals_to_send(store_id)
            .where(OrderReversal.id > after_id)
            .order_by(OrderReversal.id)
            .limit(limit)
        ).all()
        order_ids = list({order.id for _rev, order in rows})
        lines: dict[int, list[OrderLineRow]] = {oid: [] for oid in order_ids}
        for line in self.session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_id.in_(order_ids))
            .order_by(OrderLineRow.order_id, OrderLineRow.line_no)
        ):
            lines[line.order_id].append(line)
        refs = dict(
            self.session.execute(
                select(PartnerLink.hub_id, PartnerLink.partner_id).where(
                    PartnerLink.connection_id == connection_id,
                    PartnerLink.entity == "order",
                    PartnerLink.hub_id.in_(order_ids),
                )
            ).all()
        )
        return [
            PendingReversal(
                row_id=rev.id,
                uncertain=rev.state == "uncertain",
                order=_web_order(order, lines[order.id]),
                reversal=_reversal_of(rev),
                seq=rev.seq,
                document_ref=refs.get(order.id) or "",
            )
            for rev, order in rows
        ]

    def mark_reversals_uncertain(self, row_ids: Sequence[int]) -> None:
        if row_ids:
            self.session.execute(
                update(OrderReversal)
                .where(OrderReversal.id.in_(list(row_ids)))
                .values(state="uncertain", attempts=OrderReversal.attempts + 1)
            )

    def mark_reversals_done(self, documents: dict[int, str]) -> None:
        """Record them booked, and put their returned quantities back on hub-managed
        stock (only now: a reversal that is never booked gives nothing back)."""
        if not documents:
            return
        now = datetime.now(UTC)
        rows = self.session.execute(
            select(OrderReversal, Order.store_id)
            .join(Order, Order.id == OrderReversal.order_id)
            .where(OrderReversal.id.in_(list(documents)), OrderReversal.state != "done")
        ).all()
        restock: dict[int, list[OrderLine]] = {}
        for row, store_id in rows:
            row.state, row.document_ref = "done", documents[row.id]
            row.done_at, row.last_error = now, None
            restock.setdefault(store_id, []).extend(_reversal_of(row).restock)
        for store_id, lines in restock.items():
            self.catalog.adjust_hub_managed(store_id, lines, +1)
            self.catalog.forget_sent(store_id, {line.sku for line in lines})

    def mark_reversal_refused(self, row_id: int, message: str) -> None:
        """The back office refused it (nothing was booked): pending again, with why."""
        self.session.execute(
            update(OrderReversal)
            .where(OrderReversal.id == row_id)
            .values(state="pending", last_error=message)
        )

    def reversals(self, store_id: int, web_id: str) -> list[ReversalRecord]:
        """Every reversal of the order, in the order they were decided (its history)."""
        return [
            ReversalRecord(
                key=r.key,
                kind=r.kind,
                state=r.state,
                total=Decimal(str(r.detail.get("total", "0"))),
                document_ref=r.document_ref,
                error=r.last_error,
            )
            for r in self.session.scalars(
                select(OrderReversal)
                .join(Order, Order.id == OrderReversal.order_id)
                .where(Order.store_id == store_id, Order.web_id == web_id)
                .order_by(OrderReversal.seq)
            )
        ]

    def books_view(self, store_id: int, web_ids: Collection[str]) -> dict[str, HubOrder]:
        """Post state, last refusal and reversals of these web orders (chunked reads)."""
        found: dict[str, HubOrder] = {}
        for chunk in batched(sorted(set(web_ids)), 500):
            rows = list(
                self.session.scalars(
                    select(Order).where(Order.store_id == store_id, Order.web_id.in_(chunk))
                )
            )
            reversals = self._reversals_by_order([row.id for row in rows])
            for row in rows:
                found[row.web_id] = HubOrder(
                    row.web_id,
                    row.post_state,
                    row.last_error,
                    tuple(
                        HubReversal(
                            r.key,
                            r.seq,
                            r.kind,
                            r.state,
                            Decimal(str(r.detail.get("total", "0"))),
                            r.last_error,
                        )
                        for r in reversals.get(row.id, [])
                    ),
                )
        return found

    def state(self, store_id: int, web_id: str) -> OrderState | None:
        """What the hub holds about the web order (with its lines); None if unknown."""
        row = self.by_web_id(store_id, web_id)
        if row is None:
            return None
        lines = self.session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_id == row.id)
            .order_by(OrderLineRow.line_no)
        )
        return replace(
            _state_of(row),
            lines=tuple(OrderLine(li.sku, li.quantity, li.unit_price, li.name) for li in lines),
        )

    def count_to_post(self, store_id: int) -> int:
        """How many orders ``next_to_post`` has to go through (a run's progress total)."""
        return int(
            self.session.scalar(
                select(func.count(Order.id)).where(Order.store_id == store_id, _TO_POST)
            )
            or 0
        )

    def next_to_post(self, store_id: int, after_row_id: int, limit: int) -> list[PendingOrder]:
        rows = self.session.scalars(
            select(Order)
            .where(Order.store_id == store_id, _TO_POST, Order.id > after_row_id)
            .order_by(Order.id)
            .limit(limit)
        ).all()
        lines: dict[int, list[OrderLineRow]] = {row.id: [] for row in rows}
        for line in self.session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_id.in_(list(lines)))
            .order_by(OrderLineRow.order_id, OrderLineRow.line_no)
        ):
            lines[line.order_id].append(line)
        return [
            PendingOrder(
                row_id=row.id,
                uncertain=row.post_state == PostState.UNCERTAIN.value,
                order=_web_order(row, lines[row.id]),
            )
            for row in rows
        ]

    def mark_uncertain(self, row_ids: Sequence[int]) -> None:
        """Record that a post is about to be attempted: until an answer is recorded, the
        next run must look these orders up before posting them again.
        """
        if row_ids:
            self.session.execute(
                update(Order)
                .where(Order.id.in_(list(row_ids)))
                .values(post_state=PostState.UNCERTAIN.value, post_attempts=Order.post_attempts + 1)
            )

    def mark_posted(self, store_id: int, connection_id: int, documents: dict[str, str]) -> None:
        """Record web order id -> back-office document; the order will not be posted again."""
        if not documents:
            return
        now = datetime.now(UTC)
        rows = {
            row.web_id: row
            for row in self.session.scalars(
                select(Order).where(Order.store_id == store_id, Order.web_id.in_(list(documents)))
            )
        }
        links = {
            link.hub_id: link
            for link in self.session.scalars(
                select(PartnerLink).where(
                    PartnerLink.connection_id == connection_id,
                    PartnerLink.entity == "order",
                    PartnerLink.hub_id.in_([row.id for row in rows.values()]),
                )
            )
        }
        for web_id, document in documents.items():
            row = rows.get(web_id)
            if row is None:
                continue
            row.post_state = PostState.POSTED.value
            row.posted_at = now
            row.last_error = None
            link = links.get(row.id)
            if link is None:
                link = PartnerLink(connection_id=connection_id, entity="order", hub_id=row.id)
                self.session.add(link)
                links[row.id] = link
            link.partner_id = document
            link.updated_at = now
        self._plan_after_post(store_id, list(rows.values()))

    def mark_not_postable(self, row_ids: list[int]) -> None:
        """The look-up found no document for these (now cancelled) orders: stop here."""
        if row_ids:
            self.session.execute(
                update(Order)
                .where(Order.id.in_(row_ids))
                .values(post_state=PostState.NOT_POSTABLE.value)
            )

    def to_acknowledge(
        self, store_id: int, max_attempts: int, after_row_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(row id, web id) of posted orders whose status write-back the web store has not
        taken yet (fewer than ``max_attempts`` tries), oldest first after ``after_row_id``.
        Orders the web store has moved on since (fulfilled, cancelled, refunded, as the
        hub last read them) are left alone: writing the status back would undo that."""
        rows = self.session.execute(
            select(Order.id, Order.web_id)
            .where(
                Order.store_id == store_id,
                Order.post_state == PostState.POSTED.value,
                Order.acknowledged_at.is_(None),
                Order.ack_attempts < max_attempts,
                Order.status.in_(_ACKNOWLEDGEABLE),
                Order.id > after_row_id,
            )
            .order_by(Order.id)
            .limit(limit)
        ).all()
        return [(row_id, web_id) for row_id, web_id in rows]

    def mark_acknowledged(
        self, store_id: int, taken: Sequence[str], refused: Sequence[str]
    ) -> None:
        """Record a status write-back: ``taken`` are done; ``refused`` count one more try."""
        if taken:
            self.session.execute(
                update(Order)
                .where(Order.store_id == store_id, Order.web_id.in_(list(taken)))
                .values(acknowledged_at=datetime.now(UTC), ack_attempts=Order.ack_attempts + 1)
            )
        if refused:
            self.session.execute(
                update(Order)
                .where(Order.store_id == store_id, Order.web_id.in_(list(refused)))
                .values(ack_attempts=Order.ack_attempts + 1)
            )

    def mark_refused(self, store_id: int, web_id: str, message: str) -> None:
        """The back office refused the order: nothing was created; post it again next run."""
        self.session.execute(
            update(Order)
            .where(Order.store_id == store_id, Order.web_id == web_id)
            .values(post_state=PostState.PENDING.value, last_error=message)
        )

    def by_web_id(self, store_id: int, web_id: str) -> Order | None:
        return self.session.scalar(
            select(Order).where(Order.store_id == store_id, Order.web_id == web_id)
        )

    def document_ref(self, connection_id: int, order_row_id: int) -> str | None:
        return self.session.scalar(
            select(PartnerLink.partner_id).where(
                PartnerLink.connection_id == connection_id,
                PartnerLink.entity == "order",
                PartnerLink.hub_id == order_row_id,
            )
        )
