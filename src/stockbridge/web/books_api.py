"""``GET /api/v1/stores/{store}/books/reconcile?from=&to=``: the month-end check of a
store's books (``services.books``). Bad dates or a period over a year 422, an unknown
store 404, a partner that cannot answer 502. Reads only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request

from stockbridge.bootstrap import Hub
from stockbridge.connectors.errors import PartnerError
from stockbridge.services.books import parse_period, reconcile_books, reconciliation_json
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.web import service
from stockbridge.web.service import Caller, Invalid, NotFound

__all__ = ["books_routes"]

StoreName = Annotated[str, Path(min_length=1, max_length=100)]


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return service.authenticate(request.app.state.hub, authorization)


CallerDep = Annotated[Caller, Depends(_caller)]


def books_routes(hub: Hub) -> APIRouter:
    """The routes, for ``create_app`` to include."""
    router = APIRouter(prefix="/api/v1/stores/{store}/books")

    @router.get(
        "/reconcile",
        responses={422: {"description": "bad dates"}, 502: {"description": "a partner failed"}},
    )
    def reconcile(
        store: StoreName,
        who: CallerDep,
        start: Annotated[str, Query(alias="from", min_length=1, max_length=40)],
        end: Annotated[str, Query(alias="to", min_length=1, max_length=40)],
    ) -> dict[str, Any]:
        """Per day, the web store's orders, refunds and cancellations against the
        documents the back office holds, and every difference with its cause."""
        try:
            first, last = parse_period(start, end)
            with hub.uow() as uow:
                service.store_for(uow, who, store)
            return reconciliation_json(reconcile_books(hub, store, first, last))
        except StoreNotFound as exc:
            raise NotFound(str(exc)) from None
        except InvalidSetting as exc:
            raise Invalid(str(exc)) from None
        except PartnerError as exc:
            raise HTTPException(502, f"could not read the partners: {exc}") from None

    return router
