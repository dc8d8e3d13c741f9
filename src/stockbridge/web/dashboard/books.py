"""The dashboard's books page: the month-end check (``services/books.py``) for a period
the merchant picks (this month so far by default), per day and every difference with its
cause. Reads the partners when shown; writes nothing. Bad dates answer 422."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from stockbridge.bootstrap import Hub
from stockbridge.connectors.errors import PartnerError
from stockbridge.domain.reconcile import Reconciliation
from stockbridge.services.books import parse_period, reconcile_books
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.web.dashboard.guard import Refused, Viewer, viewer
from stockbridge.web.dashboard.inventory import PageTools

__all__ = ["add_books_routes"]

ViewerDep = Annotated[Viewer, Depends(viewer)]


def add_books_routes(router: APIRouter, hub: Hub, tools: PageTools) -> None:
    @router.get("/stores/{store}/books")
    async def books_page(
        request: Request, store: str, who: ViewerDep, start: str = "", end: str = ""
    ) -> Response:
        page = await tools.store_page(who, store)
        today = datetime.now(UTC).date()
        start = start or today.replace(day=1).isoformat()
        end = end or today.isoformat()
        if len(start) > 40 or len(end) > 40:
            raise Refused(422, "a date is YYYY-MM-DD")
        try:
            first, last = parse_period(start, end)
        except InvalidSetting as exc:
            raise Refused(422, str(exc)) from None
        found: Reconciliation | None = None
        problem = ""
        try:
            found = await run_in_threadpool(reconcile_books, hub, store, first, last)
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None
        except (InvalidSetting, PartnerError) as exc:
            problem = str(exc)
        return tools.render(
            request,
            "books.html",
            page="books",
            found=found,
            problem=problem,
            start=first.isoformat(),
            end=last.isoformat(),
            **page,
        )
