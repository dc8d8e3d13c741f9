"""Applying QuickBooks' answer to one request of a Web Connector session (the mailbox's
second half, ``qbwc_mailbox``): receipts recorded as posted or refused, uncertain orders
found or cleared for sending, a page of items applied (the cursor moving with the last),
all in the transaction of the ``receiveResponseXML`` call that brought the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stockbridge.connectors.qbwc.connector import QbwcSetup
from stockbridge.db.models import Connection, QbwcExchange, QbwcSession
from stockbridge.db.sources import SUPPLIER_ROLE
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import PostRequest, WebOrder, WebOrderStatus
from stockbridge.domain.orders import idempotency_key
from stockbridge.domain.sources import SourceMap, Supplier
from stockbridge.services.qbwc_reversals import apply_reversal_answer
from stockbridge.sync.inventory_in import ITEMS_STREAM, PULLED_READ
from stockbridge.sync.sources import STOCK_READ_MARK, apply_report

__all__ = ["MAX_NOTED", "OFFSET_SETTING", "apply_answer", "company_offset", "learn_offset"]

#: How many refusals a session keeps for its closing note.
MAX_NOTED = 20


def _orders_of(uow: UnitOfWork, store_id: int, web_ids: list[str]) -> list[PostRequest]:
    """What reading a look-up needs of its orders: each one's number and key."""
    requests = []
    for web_id in web_ids:
        row = uow.orders.by_web_id(store_id, web_id)
        if row is not None:
            order = WebOrder(web_id, row.number, WebOrderStatus.OPEN, datetime.now(UTC), ())
            requests.append(PostRequest(order, idempotency_key(store_id, web_id)))
    return requests


def apply_answer(
    uow: UnitOfWork,
    row: QbwcSession,
    setup: QbwcSetup,
    exchange: QbwcExchange,
    answer: str,
    state: dict[str, Any],
) -> bool:
    """Apply the answer to ``exchange``; returns whether the item read just finished."""
    store_id, connection_id = row.store_id, row.connection_id
    web_ids = list((exchange.covers or {}).get("orders", []))
    if exchange.kind in ("void", "reverse", "return", "find_rev"):
        apply_reversal_answer(uow, row, setup, exchange, answer, state)
        return False
    if exchange.kind == "refs":
        state["refs"] = setup.read_refs(answer)
        state["phase"] = "orders"
        return False
    if exchange.kind == "find":
        found = setup.read_found(answer, _orders_of(uow, store_id, web_ids))
        uow.orders.mark_posted(store_id, connection_id, found)
        state["cleared"] = sorted(
            {*state.get("cleared", []), *(w for w in web_ids if w not in found)}
        )
        return False
    if exchange.kind == "post":
        documents: dict[str, str] = {}
        for outcome in setup.read_posts(answer, web_ids):
            if outcome.document_ref is not None:
                documents[outcome.web_id] = outcome.document_ref
            elif outcome.error is not None:
                uow.orders.mark_refused(store_id, outcome.web_id, outcome.error.message)
                number = _number(uow, store_id, outcome.web_id)
                refused = [*state.get("refused", []), f"order {number}: {outcome.error.message}"]
                state["refused"] = refused[-MAX_NOTED:]
        uow.orders.mark_posted(store_id, connection_id, documents)
        # Orders QuickBooks did not answer for stay uncertain (looked up next session).
        return False
    page = setup.read_items(answer)
    if page.utc_offset is not None:
        learn_offset(uow, connection_id, page.utc_offset)
    store = uow.stores.settings(store_id)
    assert store is not None
    conflicts, changed = apply_report(
        uow,
        store_id,
        _sources(uow, store_id),
        None,
        connection_id,
        page.items,
        store_source=store.inventory_source,
    )
    if conflicts:
        row.last_error = "; ".join(f"{c.key}: {c.message}" for c in conflicts[:5])
    newest = state.get("newest")
    if page.newest is not None and (newest is None or page.newest.isoformat() > newest):
        newest = page.newest.isoformat()
    state["newest"] = newest
    state["read"] = int(state.get("read", 0)) + len(page.items)
    state["changed"] = int(state.get("changed", 0)) + changed
    state["remaining"] = page.remaining
    if page.remaining > 0 and page.iterator_id is not None:
        state["iterator"] = page.iterator_id
        return False
    if newest is not None:
        uow.stores.advance_cursor(connection_id, ITEMS_STREAM, datetime.fromisoformat(newest))
    started = datetime.fromisoformat(str(state["items_started"]))
    uow.stores.advance_cursor(connection_id, STOCK_READ_MARK, started)
    _leave_counts(uow, connection_id, int(state["read"]), int(state["changed"]))
    state["phase"] = "done"
    state.pop("iterator", None)
    return True


def _leave_counts(uow: UnitOfWork, connection_id: int, read: int, changed: int) -> None:
    """What the session's item read read and changed, for the run it queues to report
    (added to counts an earlier session left that no run has reported yet)."""
    connection = uow.session.get(Connection, connection_id)
    if connection is None:
        return
    settings = dict(connection.settings or {})
    earlier = settings.get(PULLED_READ) or {}
    settings[PULLED_READ] = {
        "read": int(earlier.get("read", 0)) + read,
        "changed": int(earlier.get("changed", 0)) + changed,
    }
    connection.settings = settings


#: The connection setting that keeps the company's UTC offset, learned from its answers.
OFFSET_SETTING = "utc_offset_minutes"


def company_offset(uow: UnitOfWork, connection_id: int) -> timedelta | None:
    """The company's UTC offset as its answers last showed it (None: not known yet)."""
    connection = uow.session.get(Connection, connection_id)
    minutes = (connection.settings or {}).get(OFFSET_SETTING) if connection else None
    return None if minutes is None else timedelta(minutes=int(minutes))


def learn_offset(uow: UnitOfWork, connection_id: int, offset: timedelta) -> None:
    connection = uow.session.get(Connection, connection_id)
    minutes = int(offset.total_seconds() // 60)
    if connection is not None and (connection.settings or {}).get(OFFSET_SETTING) != minutes:
        connection.settings = {**(connection.settings or {}), OFFSET_SETTING: minutes}


def _number(uow: UnitOfWork, store_id: int, web_id: str) -> str:
    row = uow.orders.by_web_id(store_id, web_id)
    return row.number if row is not None else web_id


def _sources(uow: UnitOfWork, store_id: int) -> SourceMap:
    return SourceMap(
        tuple(
            Supplier(c.id, c.name, c.owns)
            for c in uow.stores.connections(store_id)
            if c.role == SUPPLIER_ROLE
        )
    )
