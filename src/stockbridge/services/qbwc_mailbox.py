"""The Web Connector as a durable mailbox: the use cases behind each SOAP call.

A Web Connector session is a row (``QbwcSession``: where it stands) and its requests
are rows (``QbwcExchange``: what each covers, when it went out, when its answer was
applied). Whichever process takes a call reads the session, and in that one
transaction either hands over the next request, prepared from the hub's own tables, or
applies QuickBooks' answer. Nothing waits for the PC: no run, no thread, no store lease.

A session goes through phases: ``refs`` (the items' ListIDs, when lines need them and
orders wait), ``orders`` (each batch of orders not yet posted: uncertain ones looked up
first, the rest marked uncertain in the transaction that hands their receipts over),
``items`` (items changed since the cursor, through an iterator, each page applied as it
comes; the cursor moves with the last page) and ``done``. Exactly once as in the sync
steps: an order is ``uncertain`` from the moment its receipt is handed over until the
answer is applied; a session that ends without answering (closed, superseded by the next
session of its store, quiet past the expiry, its process killed) leaves it uncertain,
and the next session looks it up by our key before it is ever sent again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from stockbridge.bootstrap import Hub
from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.qbwc.connector import QbwcSetup
from stockbridge.db.models import Connection, QbwcExchange, QbwcSession, QbwcUser
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import BooksOptions, PostRequest
from stockbridge.domain.orders import PendingOrder, idempotency_key
from stockbridge.services.qbwc_answers import apply_answer, company_offset
from stockbridge.services.qbwc_reversals import next_reversals
from stockbridge.sync.inventory_in import ITEMS_STREAM

__all__ = [
    "SESSION_EXPIRY",
    "UNKNOWN_TICKET",
    "Answered",
    "close_session",
    "connection_error",
    "last_error",
    "open_session",
    "receive_response",
    "send_request",
]

#: How far past the start of an item read its range filter reaches (clock skew).
CLOCK_MARGIN = timedelta(days=1)
#: A session quiet for longer than this is over (its requests in flight stay uncertain).
SESSION_EXPIRY = timedelta(minutes=30)
UNKNOWN_TICKET = "unknown or expired session ticket: the next scheduled update starts anew"
SUPERSEDED = "a new Web Connector session of this store began"
#: Percent done reported per phase (``receiveResponseXML``; 100 = the session is done).
_PERCENT = {"start": 1, "refs": 5, "orders": 10, "reversals": 40, "items": 50}


@dataclass(frozen=True)
class Answered:
    """What ``receiveResponseXML`` answers (percent done; negative: see getLastError) and
    whether the session just read the items through (the store's stock can go out)."""

    percent: int
    store_id: int | None = None
    read_through: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _live(uow: UnitOfWork, ticket: str, now: datetime, expiry: timedelta) -> QbwcSession | None:
    """The open session of ``ticket``, locked for this transaction; None when unknown,
    ended, or quiet past ``expiry`` (then it is ended here)."""
    row = uow.session.scalar(
        select(QbwcSession).where(QbwcSession.ticket == ticket).with_for_update()
    )
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_call_at > expiry:
        _end(uow, row, "the session went quiet and expired", now)
        return None
    row.last_call_at = now
    return row


def _end(uow: UnitOfWork, row: QbwcSession, why: str, now: datetime) -> None:
    row.ended_at, row.ended = now, why
    for exchange in uow.session.scalars(
        select(QbwcExchange).where(
            QbwcExchange.ticket == row.ticket, QbwcExchange.answered_at.is_(None)
        )
    ):
        exchange.outcome = f"no answer ({why}): its orders are looked up next session"


def _note(uow: UnitOfWork, store_id: int, now: datetime, outcome: str | None) -> None:
    user = uow.session.get(QbwcUser, store_id)
    if user is not None:
        user.last_call_at = now
        if outcome is not None:
            user.last_outcome = outcome[:2000]


def open_session(hub: Hub, store_id: int, connection_id: int) -> str:
    """A new session of the store (its earlier ones end: the Web Connector moved on);
    returns its ticket."""
    now = _now()
    ticket = secrets.token_urlsafe(24)
    with hub.uow() as uow:
        for row in uow.session.scalars(
            select(QbwcSession)
            .where(QbwcSession.store_id == store_id, QbwcSession.ended_at.is_(None))
            .with_for_update()
        ):
            _end(uow, row, SUPERSEDED, now)
        uow.session.add(
            QbwcSession(
                ticket=ticket,
                store_id=store_id,
                connection_id=connection_id,
                state={"phase": "start"},
                started_at=now,
                last_call_at=now,
                exchanges=0,
            )
        )
        _note(uow, store_id, now, "session started")
        uow.commit()
    return ticket


def _setup(uow: UnitOfWork, row: QbwcSession) -> QbwcSetup:
    connection = uow.session.get(Connection, row.connection_id)
    return QbwcSetup.of(dict(connection.settings or {}) if connection is not None else {})


def _request(pending: PendingOrder, store_id: int, books: BooksOptions) -> PostRequest:
    return PostRequest(pending.order, idempotency_key(store_id, pending.order.web_id), books)


def _exchange(uow: UnitOfWork, row: QbwcSession, kind: str, covers: dict[str, Any]) -> None:
    uow.session.add(
        QbwcExchange(ticket=row.ticket, kind=kind, covers=covers, sent_at=_now(), answered_at=None)
    )


def _in_flight(uow: UnitOfWork, row: QbwcSession) -> QbwcExchange | None:
    return uow.session.scalar(
        select(QbwcExchange)
        .where(QbwcExchange.ticket == row.ticket, QbwcExchange.answered_at.is_(None))
        .order_by(QbwcExchange.id.desc())
        .limit(1)
    )


def send_request(hub: Hub, ticket: str, *, expiry: timedelta = SESSION_EXPIRY) -> str:
    """``sendRequestXML``: the next request of the session, "" when there is none."""
    now = _now()
    with hub.uow() as uow:
        row = _live(uow, ticket, now, expiry)
        if row is None:
            uow.commit()
            return ""
        if _in_flight(uow, row) is not None:
            # Asked again before answering: the last request's outcome is unknown.
            row.last_error = "the Web Connector asked for a request before answering the last"
            _end(uow, row, row.last_error, now)
            uow.commit()
            return ""
        state = dict(row.state or {})
        request = _next(uow, row, _setup(uow, row), state, now)
        row.state = state
        uow.commit()
        return request or ""


def _next(
    uow: UnitOfWork, row: QbwcSession, setup: QbwcSetup, state: dict[str, Any], now: datetime
) -> str | None:
    """Prepare the next request (recorded as in flight), moving through the phases."""
    store_id = row.store_id
    while True:
        phase = state.get("phase", "start")
        if phase == "start":
            state["phase"] = "refs" if setup.by_list_id else "orders"
        elif phase == "refs":
            if uow.orders.count_to_post(store_id) + uow.orders.count_reversals(store_id) == 0:
                state["phase"] = "items"
                continue
            _exchange(uow, row, "refs", {})
            return setup.refs_request()
        elif phase == "orders":
            request = _next_orders(uow, row, setup, state)
            if request is not None:
                return request
            state["phase"] = "reversals"
        elif phase == "reversals":
            request = next_reversals(
                uow, row, setup, state, lambda kind, covers: _exchange(uow, row, kind, covers)
            )
            if request is not None:
                return request
            state["phase"] = "items"
        elif phase == "items":
            if "items_started" not in state:
                since = uow.stores.cursor(row.connection_id, ITEMS_STREAM)
                state["items_started"] = now.isoformat()
                state["since"] = since.isoformat() if since is not None else None
            since_text = state.get("since")
            since = datetime.fromisoformat(since_text) if since_text else None
            # qbposXML requires both ends of the range; the far end leaves a day for a
            # PC clock ahead of the hub's (the cursor is the newest time QuickBooks gave).
            until = datetime.fromisoformat(str(state["items_started"])) + CLOCK_MARGIN
            _exchange(uow, row, "items", {"iterator": state.get("iterator")})
            return setup.items_request(
                since, until, state.get("iterator"), company_offset(uow, row.connection_id)
            )
        else:
            return None


def _next_orders(
    uow: UnitOfWork, row: QbwcSession, setup: QbwcSetup, state: dict[str, Any]
) -> str | None:
    """The next batch of orders: a look-up of its uncertain ones (not yet cleared by a
    look-up in this session), else its receipts, marked uncertain first."""
    store_id = row.store_id
    store = uow.stores.settings(store_id)
    books = store.books if store is not None else BooksOptions()
    cleared = set(state.get("cleared", []))
    refs: dict[str, str] = state.get("refs", {})
    while True:
        batch = uow.orders.next_to_post(store_id, int(state.get("after", 0)), setup.batch_size)
        if not batch:
            return None
        to_check = [p for p in batch if p.uncertain and p.order.web_id not in cleared]
        if to_check:
            requests = [_request(p, store_id, books) for p in to_check]
            _exchange(uow, row, "find", {"orders": [p.order.web_id for p in to_check]})
            return setup.find_request(requests)
        state["after"] = batch[-1].row_id
        # An uncertain order cancelled on the web since: looked up, never posted.
        cancelled = [p.row_id for p in batch if not p.order.status.postable]
        uow.orders.mark_not_postable(cancelled)
        sendable: list[PostRequest] = []
        for pending in batch:
            if not pending.order.status.postable:
                continue
            request = _request(pending, store_id, books)
            unmapped = setup.unmapped(request, refs)
            if unmapped is not None:
                uow.orders.mark_refused(store_id, pending.order.web_id, unmapped.message)
            else:
                sendable.append(request)
        if not sendable:
            continue
        rows = {p.order.web_id: p.row_id for p in batch}
        uow.orders.mark_uncertain([rows[r.order.web_id] for r in sendable])
        _exchange(uow, row, "post", {"orders": [r.order.web_id for r in sendable]})
        return setup.post_request(sendable, refs)


def receive_response(
    hub: Hub,
    ticket: str,
    response: str,
    hresult: str,
    message: str,
    *,
    expiry: timedelta = SESSION_EXPIRY,
) -> Answered:
    """``receiveResponseXML``: apply QuickBooks' answer to the request in flight."""
    now = _now()
    with hub.uow() as uow:
        row = _live(uow, ticket, now, expiry)
        if row is None:
            uow.commit()
            return Answered(-1)
        exchange = _in_flight(uow, row)
        if exchange is None:
            row.last_error = "a response to no request of this session"
            uow.commit()
            return Answered(-1, row.store_id)
        exchange.answered_at = now
        if hresult:
            row.last_error = f"QuickBooks could not answer ({hresult}): {message}"
            exchange.outcome = row.last_error
            _end(uow, row, row.last_error, now)  # its orders stay uncertain: looked up next
            _note(uow, row.store_id, now, row.last_error)
            uow.commit()
            return Answered(-1, row.store_id)
        state = dict(row.state or {})
        setup = _setup(uow, row)
        try:
            read_through = apply_answer(uow, row, setup, exchange, response, state)
        except PartnerResponseError as exc:
            unreadable = str(exc)  # nothing of it applied: this unit of work rolls back
        else:
            row.state = state
            row.exchanges += 1
            exchange.outcome = "applied"
            percent = 100 if state.get("phase") == "done" else _percent(state)
            store_id = row.store_id
            uow.commit()
            return Answered(percent, store_id, read_through)
    return _unreadable(hub, ticket, unreadable)


def _unreadable(hub: Hub, ticket: str, why: str) -> Answered:
    """End the session over an answer that cannot be read; the orders it covered stay
    uncertain (looked up next session)."""
    now = _now()
    with hub.uow() as uow:
        row = uow.session.get(QbwcSession, ticket)
        if row is None:
            return Answered(-1)
        row.last_error = f"QuickBooks' answer could not be read: {why}"
        _end(uow, row, row.last_error, now)
        _note(uow, row.store_id, now, row.last_error)
        uow.commit()
        return Answered(-1, row.store_id)


def _percent(state: dict[str, Any]) -> int:
    if state.get("phase") == "items":
        read, remaining = int(state.get("read", 0)), int(state.get("remaining", 0))
        return 50 + int(49 * read / max(1, read + remaining))
    return _PERCENT.get(str(state.get("phase")), 1)


def connection_error(hub: Hub, ticket: str, hresult: str, message: str) -> None:
    """``connectionError``: the Web Connector could not reach QuickBooks; the session ends."""
    now = _now()
    with hub.uow() as uow:
        row = _live(uow, ticket, now, SESSION_EXPIRY)
        if row is not None:
            row.last_error = f"the Web Connector could not reach QuickBooks ({hresult}): {message}"
            _end(uow, row, row.last_error, now)
            _note(uow, row.store_id, now, row.last_error)
        uow.commit()


def last_error(hub: Hub, ticket: str) -> str:
    """``getLastError``: why the session stopped (or "no error")."""
    with hub.uow() as uow:
        uow.read_only()
        row = uow.session.get(QbwcSession, ticket)
        if row is None:
            return UNKNOWN_TICKET
        return row.last_error or row.ended or "no error"


def close_session(hub: Hub, ticket: str) -> str:
    """``closeConnection``: the session is over; what came of it is noted for the panel."""
    now = _now()
    with hub.uow() as uow:
        row = uow.session.scalar(
            select(QbwcSession).where(QbwcSession.ticket == ticket).with_for_update()
        )
        if row is None:
            return UNKNOWN_TICKET
        if row.ended_at is None:
            _end(uow, row, "the Web Connector closed the session", now)
        outcome = row.last_error or f"session complete: {row.exchanges} request(s) answered"
        refused = list((row.state or {}).get("refused", []))
        if refused:
            outcome += "; QuickBooks refused " + "; ".join(refused)
        _note(uow, row.store_id, now, outcome)
        uow.commit()
        return "OK"
