"""The API's twins of dashboard forms that had none: retrying a run's failed items,
connecting the web store or a feed, and "test this source" (a feed's first rows, nothing
saved). The catalog settings and the drift threshold are fields of
``PATCH /api/v1/stores/{store}/settings`` (``setup_api.py``); the Web Connector's status
and connect route live with that partner (``connectors/qbwc/web_routes.py``).

Same rules as the rest of the API: a store token sees only its store (404 for any other),
bad input is 422 with the reason and nothing saved, a source that cannot be reached or
refuses the credentials is 422 with the partner's own words. Secrets sent here (access
tokens, feed credentials) are never answered back. Another API URL, or a feed on a folder
of the server, is for operator tokens only (as for operators on the dashboard)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from stockbridge.bootstrap import Hub
from stockbridge.jobs.queue import JobQueue
from stockbridge.jsonable import json_object
from stockbridge.services.errors import ConnectFailed, InvalidSetting, StoreNotFound
from stockbridge.services.onboarding import (
    FeedForm,
    connect_feed,
    connect_web_store,
    preview_feed,
)
from stockbridge.services.runs import RetryFailedItems, retry_failed_items
from stockbridge.web import service
from stockbridge.web.dashboard.guard import RunId
from stockbridge.web.errors import Conflict, Invalid, NotFound
from stockbridge.web.service import Caller

__all__ = ["option_routes"]

StoreName = Annotated[str, Path(min_length=1, max_length=100)]
Short = Annotated[str, Field(max_length=200)]


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return service.authenticate(request.app.state.hub, authorization)


CallerDep = Annotated[Caller, Depends(_caller)]


class WebStoreIn(BaseModel):
    """A BigCommerce API account: the store hash and its access token (checked with one
    call before anything is saved); ``api_url`` another API address (operators only)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    store_hash: str = Field(min_length=1, max_length=64)
    access_token: str = Field(min_length=1, max_length=500)
    api_url: str | None = Field(default=None, max_length=2000)


class FeedIn(BaseModel):
    """A feed source as the dashboard's form gives it (``source``: https://..., sftp://...
    or, operators only, a folder)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    source: str = Field(min_length=1, max_length=2000)
    format: Literal["csv", "json"] = "csv"
    sku_field: Short = "sku"
    quantity_field: Short = "quantity"
    location_field: Short = "location"
    price_field: Short = "price"
    name_field: Short = "name"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    missing: Literal["keep", "zero"] = "keep"
    auth: Literal["none", "bearer", "basic"] = "none"
    token: str = Field(default="", max_length=2000)
    username: Short = ""
    password: str = Field(default="", max_length=2000)

    def form(self) -> FeedForm:
        return FeedForm(**self.model_dump())


class RetryAccepted(BaseModel):
    run_id: int
    merged: bool = False


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from None
    except (InvalidSetting, ConnectFailed) as exc:
        raise Invalid(str(exc)) from None


def option_routes(hub: Hub, queue: JobQueue) -> APIRouter:
    """The routes, for ``create_app`` to include."""
    router = APIRouter(prefix="/api/v1/stores/{store}")

    def visible(who: Caller, store: str) -> str:
        with hub.uow() as uow:
            return service.store_for(uow, who, store).name

    @router.post("/runs/{run_id}/retry", status_code=202, response_model=RetryAccepted)
    def retry(store: StoreName, run_id: RunId, who: CallerDep) -> RetryAccepted:
        """Queue a manual run of the steps in which run ``run_id`` had item errors (409
        when it had none)."""
        name = visible(who, store)
        with _mapped():
            try:
                requested = retry_failed_items(hub, RetryFailedItems(name, run_id))
            except InvalidSetting as exc:
                raise Conflict(str(exc)) from None
        queue.submit_run(requested.run_id)
        return RetryAccepted(run_id=requested.run_id, merged=requested.merged)

    @router.put("/connections/web")
    async def connect_web(store: StoreName, who: CallerDep, body: WebStoreIn) -> dict[str, Any]:
        """Connect the web store (BigCommerce) with an API account's access token."""
        name = await run_in_threadpool(visible, who, store)
        with _mapped():
            connected = await run_in_threadpool(
                lambda: connect_web_store(
                    hub,
                    name,
                    store_hash=body.store_hash,
                    access_token=body.access_token,
                    api_url=body.api_url,
                    trusted=who.store_id is None,
                )
            )
        return json_object(connected)

    @router.put("/connections/feed")
    async def connect_a_feed(store: StoreName, who: CallerDep, body: FeedIn) -> dict[str, Any]:
        """Connect the back office to a feed (reached once before it is saved)."""
        name = await run_in_threadpool(visible, who, store)
        with _mapped():
            connected = await run_in_threadpool(
                lambda: connect_feed(hub, name, body.form(), trusted=who.store_id is None)
            )
        return json_object(connected)

    @router.post("/connections/feed/preview")
    async def test_source(store: StoreName, who: CallerDep, body: FeedIn) -> dict[str, Any]:
        """ "Test this source": the first rows of the file the source offers now, as read;
        nothing is saved and nothing is marked read."""
        await run_in_threadpool(visible, who, store)
        with _mapped():
            shown = await run_in_threadpool(
                lambda: preview_feed(hub, body.form(), trusted=who.store_id is None)
            )
        return json_object(shown)

    return router
