"""The month-end check of a store's books (``domain.reconcile``): the web store's
orders, refunds and cancellations of a period against the documents the back office
holds. Reads the partners in their paged list calls and the hub; writes nothing.

Raises ``InvalidSetting`` for a period that is not one (bad dates, ``from`` after ``to``,
more than 366 days) and for a store whose partners cannot list a period,
``StoreNotFound`` for an unknown store; a partner that fails raises its PartnerError.
"""

from __future__ import annotations

from datetime import date

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BooksLedgerReader, BooksWebReader
from stockbridge.domain.reconcile import Reconciliation, reconcile
from stockbridge.jsonable import jsonable
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.stores import resolve_store

__all__ = ["MAX_DAYS", "parse_period", "reconcile_books", "reconciliation_json"]

MAX_DAYS = 366


def parse_period(start: str, end: str) -> tuple[date, date]:
    """``YYYY-MM-DD`` both; ``start`` <= ``end``; at most a year."""
    days: list[date] = []
    for name, text in (("from", start), ("to", end)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except (ValueError, AttributeError):
            raise InvalidSetting(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None
    first, last = days
    if first > last:
        raise InvalidSetting(f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidSetting(f"the period is longer than {MAX_DAYS} days: check it a year at most")
    return first, last


def reconcile_books(hub: Hub, store_name: str | None, start: date, end: date) -> Reconciliation:
    """The store's books for [start, end], day by day, with every difference's cause."""
    store_id = resolve_store(hub, store_name)
    partners = hub.partners_for(store_id)
    try:
        web, books = partners.web, partners.back_office
        if not isinstance(web, BooksWebReader):
            raise InvalidSetting("the store's web store cannot list a period's orders and refunds")
        if not isinstance(books, BooksLedgerReader):
            raise InvalidSetting("the store's back office cannot list a period's documents")
        period = web.books_period(start, end)
        documents = books.books_documents(start, end)
    finally:
        hub.release_partners(partners)
    web_ids = {s.web_id for s in period.sales} | {r.web_id for r in period.refunds}
    with hub.uow() as uow:
        held = uow.orders.books_view(store_id, web_ids)
    return reconcile(store_id, start, end, period, documents, held)


def reconciliation_json(found: Reconciliation) -> dict[str, object]:
    """The check as JSON (the API's and ``--json``'s shape): money as strings."""
    return {
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
        "agrees": found.agrees,
        "days": jsonable(list(found.days)),
        "differences": jsonable(list(found.differences)),
    }
