"""Web orders in the hub and their way to the back office (``PostState``).

The repository loads an order's state, lets ``domain.orders`` decide, and stores the
decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from stockbridge.db.catalog import POSTABLE_STATUSES, CatalogRepository
from stockbridge.db.models import Order, OrderLineRow, PartnerLink
from stockbridge.domain.model import OrderLine, WebOrder, WebOrderStatus
from stockbridge.domain.orders import OrderState, PendingOrder, PostState, apply_web_order

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
        )
        for n, line in enumerate(order.lines, start=1)
    ]


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
            applied.append((order, row))
            taken.extend(change.stock_taken)
            given_back.extend(change.stock_given_back)
            web_moved.update(change.web_stock_moved)
        self.session.flush()  # one flush for the page: every new row gets its id
        for order, row in applied:
            self.session.add_all(_lines_of(order, row.id))
        self.catalog.adjust_hub_managed(store_id, taken, -1)
        self.catalog.adjust_hub_managed(store_id, given_back, +1)
        self.catalog.forget_sent(store_id, web_moved)
        return changed

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
        lines: dict[int, list[OrderLine]] = {row.id: [] for row in rows}
        for line in self.session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_id.in_(list(lines)))
            .order_by(OrderLineRow.order_id, OrderLineRow.line_no)
        ):
            lines[line.order_id].append(
                OrderLine(line.sku, line.quantity, line.unit_price, line.name)
            )
        return [
            PendingOrder(
                row_id=row.id,
                uncertain=row.post_state == PostState.UNCERTAIN.value,
                order=WebOrder(
                    web_id=row.web_id,
                    number=row.number,
                    status=WebOrderStatus(row.status),
                    modified_at=row.modified_at,
                    lines=tuple(lines[row.id]),
                    placed_at=row.placed_at,
                    currency=row.currency,
                    total=row.total,
                    shipping=row.shipping,
                    discount=row.discount,
                    customer_email=row.customer_email,
                ),
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
