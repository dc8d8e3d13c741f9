"""The API's routes for what the dashboard's settings and setup pages do: create a store,
read and change its settings, its connections (status, disconnect), its schedules, its
status (with the last manual sync), API tokens, and dashboard users with their store
grants. Hub quantities and assignments are ``products_api.py``'s.

Who may do what: an operator token (every store) may do everything; a store token sees
only its own store (any other store answers 404, word for word as one that does not
exist), may list its store's tokens and revoke itself, and gets 403 on the operator
routes (creating stores, users, grants and tokens: only operators and the dashboard
mint tokens, see ``services.tokens``). Every use case
checks its input before writing: bad input is 422, an unknown name 404, a duplicate 409,
and nothing is half-applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from stockbridge import accounts
from stockbridge.bootstrap import Hub
from stockbridge.domain.model import InventorySource
from stockbridge.jsonable import json_list, json_object
from stockbridge.services.errors import DuplicateStore, InvalidSetting, StoreNotFound
from stockbridge.services.onboarding import ConnectionNotFound, disconnect
from stockbridge.services.schedules import set_schedule, show_schedule
from stockbridge.services.status import store_status
from stockbridge.services.stores import add_store, connections_of, describe_store, update_store
from stockbridge.services.tokens import (
    MAX_TOKEN_DAYS,
    TokenNotFound,
    issue_token,
    list_tokens,
    revoke_token,
)
from stockbridge.web import service
from stockbridge.web.dashboard.guard import MAX_ROW_ID
from stockbridge.web.errors import Conflict, Forbidden, Invalid, NotFound
from stockbridge.web.service import Caller

__all__ = ["setup_routes"]

StoreName = Annotated[str, Path(min_length=1, max_length=100)]
UserName = Annotated[str, Path(min_length=1, max_length=100)]
TokenId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
SourceName = Literal["back_office", "web", "erp_via_web", "api"]
Role = Literal["web", "back_office"]
ScheduleStep = Literal["all", "stock", "orders-in", "orders-out", "inventory-in", "inventory-out"]
HHMM = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")]
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
StoreRef = Annotated[str, Field(min_length=1, max_length=100)]


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return service.authenticate(request.app.state.hub, authorization)


CallerDep = Annotated[Caller, Depends(_caller)]


class StoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: StoreRef
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    inventory_source: SourceName = "back_office"
    erp_name: str | None = Field(default=None, max_length=200)


class SettingsIn(BaseModel):
    """The settings to change (absent or null: unchanged; "" clears an alert channel)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    inventory_source: SourceName | None = None
    erp_name: str | None = Field(default=None, max_length=200)
    sync_all_button: bool | None = None
    alert_email: str | None = Field(default=None, max_length=254)
    alert_webhook_url: str | None = Field(default=None, max_length=2000)
    stale_after_hours: int | None = Field(default=None, ge=1, le=10_000)
    failing_item_runs: int | None = Field(default=None, ge=1, le=1000)
    pending_order_hours: int | None = Field(default=None, ge=1, le=10_000)
    drift_threshold: int | None = Field(default=None, ge=0, le=1_000_000)
    catalog_create_new: bool | None = None
    catalog_new_visible: bool | None = None
    catalog_price_source: Literal["back_office", "web", "auto"] | None = None
    catalog_push_names: bool | None = None
    catalog_inactive: Literal["zero", "hide"] | None = None


class ScheduleIn(BaseModel):
    """``enabled`` false turns the schedule off (give no timing then); otherwise a daily
    time (store time, HH:MM) and/or every N minutes."""

    model_config = ConfigDict(extra="forbid", strict=True)
    enabled: bool = True
    daily_at: HHMM | None = None
    every_minutes: int | None = Field(default=None, ge=1, le=1440)
    business_days: bool = False
    holidays: list[IsoDate] = Field(default_factory=list, max_length=366)


class TokenIn(BaseModel):
    """``store``: the store the token is for; null: every store (operators only)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    store: StoreRef | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=accounts.MAX_NAME)
    password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=accounts.MAX_PASSWORD)
    operator: bool = False
    stores: list[StoreRef] = Field(default_factory=list, max_length=1000)


class GrantsIn(BaseModel):
    """What the user sees from now on: every store (``operator``) or ``stores``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    operator: bool = False
    stores: list[StoreRef] = Field(default_factory=list, max_length=1000)


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from None
    except (TokenNotFound, ConnectionNotFound) as exc:
        raise NotFound(str(exc)) from None
    except DuplicateStore as exc:
        raise Conflict(str(exc)) from None
    except (InvalidSetting, accounts.InvalidAccount) as exc:
        raise Invalid(str(exc)) from None


def _operator(who: Caller) -> None:
    if who.store_id is not None:
        raise Forbidden("this route is for operator tokens (stockbridge token create --operator)")


def setup_routes(hub: Hub) -> APIRouter:
    """The routes, for ``create_app`` to include."""
    router = APIRouter(prefix="/api/v1")

    def visible(who: Caller, store: str) -> str:
        """The store's name if the caller may see it, else 404."""
        with hub.uow() as uow:
            return service.store_for(uow, who, store).name

    def own_store(who: Caller) -> str | None:
        """A store token's store; None for an operator token."""
        if who.store_id is None:
            return None
        with hub.uow() as uow:
            store = uow.stores.get(who.store_id)
            if store is None:
                raise NotFound("the token's store no longer exists")
            return store.name

    # stores ------------------------------------------------------------------------

    @router.post("/stores", status_code=201)
    def create_store(who: CallerDep, body: StoreIn) -> dict[str, Any]:
        """Add a store (operator tokens only); 409 when the name is taken."""
        _operator(who)
        with _mapped():
            return json_object(
                add_store(
                    hub,
                    body.name,
                    timezone=body.timezone,
                    inventory_source=InventorySource(body.inventory_source),
                    erp_name=body.erp_name,
                )
            )

    @router.get("/stores/{store}/settings")
    def get_settings(store: StoreName, who: CallerDep) -> dict[str, Any]:
        """Every setting of the store (the alert webhook's URL masked)."""
        visible(who, store)
        with _mapped():
            return json_object(describe_store(hub, store))

    @router.patch("/stores/{store}/settings")
    def change_settings(store: StoreName, who: CallerDep, body: SettingsIn) -> dict[str, Any]:
        """Change the given settings; all are checked before any is saved."""
        visible(who, store)
        with _mapped():
            return json_object(
                update_store(
                    hub,
                    store,
                    timezone=body.timezone,
                    inventory_source=None
                    if body.inventory_source is None
                    else InventorySource(body.inventory_source),
                    erp_name=body.erp_name,
                    sync_all_button=body.sync_all_button,
                    alert_email=body.alert_email,
                    alert_webhook_url=body.alert_webhook_url,
                    stale_after_hours=body.stale_after_hours,
                    failing_item_runs=body.failing_item_runs,
                    pending_order_hours=body.pending_order_hours,
                    drift_threshold=body.drift_threshold,
                    catalog_create_new=body.catalog_create_new,
                    catalog_new_visible=body.catalog_new_visible,
                    catalog_price_source=body.catalog_price_source,
                    catalog_push_names=body.catalog_push_names,
                    catalog_inactive=body.catalog_inactive,
                )
            )

    @router.get("/stores/{store}/status")
    def status(store: StoreName, who: CallerDep) -> dict[str, Any]:
        """The last run of each step, the last manual and automatic syncs, runs under way
        and the connections' health."""
        visible(who, store)
        with _mapped():
            return json_object(store_status(hub, store)[0])

    # connections -------------------------------------------------------------------

    @router.get("/stores/{store}/connections")
    def connections(store: StoreName, who: CallerDep) -> list[dict[str, Any]]:
        """The store's connections: role, kind, health and the last error."""
        with hub.uow() as uow:
            uow.read_only()
            found = service.store_for(uow, who, store)
            return json_list(connections_of(uow, found.id))

    @router.delete("/stores/{store}/connections/{role}")
    def remove_connection(store: StoreName, role: Role, who: CallerDep) -> dict[str, Any]:
        """Disconnect the web store or the back office (runs and orders stay)."""
        visible(who, store)
        with _mapped():
            return json_object(disconnect(hub, store, role))

    # schedules ---------------------------------------------------------------------

    @router.get("/stores/{store}/schedules")
    def schedules(store: StoreName, who: CallerDep) -> dict[str, Any]:
        """The store's schedules with their next run times in the store's time zone."""
        visible(who, store)
        with _mapped():
            return json_object(show_schedule(hub, store))

    @router.put("/stores/{store}/schedules/{step}")
    def put_schedule(
        store: StoreName, step: ScheduleStep, who: CallerDep, body: ScheduleIn
    ) -> dict[str, Any]:
        """Set when ``step`` ("all": Sync All; "stock": inventory in and out) runs by
        itself, or turn it off."""
        visible(who, store)
        with _mapped():
            return json_object(
                set_schedule(
                    hub,
                    store,
                    daily_at=body.daily_at if body.enabled else None,
                    every_minutes=body.every_minutes if body.enabled else None,
                    step=step,
                    off=not body.enabled,
                    business_days=body.business_days and body.enabled,
                    holidays=",".join(body.holidays) or None if body.enabled else None,
                )
            )

    # tokens ------------------------------------------------------------------------

    @router.get("/tokens")
    def tokens(who: CallerDep) -> list[dict[str, Any]]:
        """API tokens (never their secrets): every token for an operator token, the
        store's own for a store token."""
        mine = own_store(who)
        return json_list(list_tokens(hub, None if mine is None else {mine}))

    @router.post("/tokens", status_code=201)
    def create_token(who: CallerDep, body: TokenIn) -> dict[str, Any]:
        """A new token (operator tokens only); its secret is in this answer only. It
        expires no later than the token minting it and is revoked with it."""
        _operator(who)
        with _mapped():
            return json_object(
                issue_token(
                    hub,
                    body.store,
                    operator=body.store is None,
                    expires_in_days=body.expires_in_days,
                    parent_id=who.token_id,
                )
            )

    @router.delete("/tokens/{token_id}", status_code=204)
    def revoke(token_id: TokenId, who: CallerDep) -> Response:
        """Revoke a token at once, with the tokens it minted (their next request gets
        401). A store token may revoke itself only (any other id: 404)."""
        mine = own_store(who)
        with _mapped():
            revoke_token(
                hub, token_id, None if mine is None else {mine}, only=who.token_id if mine else None
            )
        return Response(status_code=204)

    # users -------------------------------------------------------------------------

    def known_user(name: str) -> None:
        if name not in {u.name for u in accounts.list_users(hub)}:
            raise NotFound(f"no user named {name!r}")

    @router.get("/users")
    def users(who: CallerDep) -> list[dict[str, Any]]:
        """Dashboard users, what each sees and their open sessions (operators only)."""
        _operator(who)
        return json_list(accounts.list_users(hub))

    @router.post("/users", status_code=201)
    async def add_user(who: CallerDep, body: UserIn) -> JSONResponse:
        """Add a dashboard user who sees ``stores`` or, as an ``operator``, every store
        (operators only). The password is never answered back."""
        _operator(who)
        if body.name in {u.name for u in await run_in_threadpool(accounts.list_users, hub)}:
            raise Conflict(f"a user named {body.name!r} already exists")
        with _mapped():
            await run_in_threadpool(
                lambda: accounts.add_user(
                    hub, body.name, body.password, stores=body.stores, operator=body.operator
                )
            )
        users = await run_in_threadpool(accounts.list_users, hub)
        summary = next(u for u in users if u.name == body.name)
        return JSONResponse(json_object(summary), status_code=201)

    @router.put("/users/{name}/grants")
    def set_grants(name: UserName, who: CallerDep, body: GrantsIn) -> dict[str, Any]:
        """Replace what the user sees (operators only); open sessions follow at once."""
        _operator(who)
        known_user(name)
        if body.operator == bool(body.stores):
            raise Invalid("give the stores the user may see, or operator: true (not both)")
        with _mapped():
            return json_object(
                accounts.change_user(
                    hub, name, stores=None if body.operator else body.stores, operator=body.operator
                )
            )

    @router.delete("/users/{name}", status_code=204)
    def remove_user(name: UserName, who: CallerDep) -> Response:
        """Remove a user; their sessions end at once (operators only)."""
        _operator(who)
        known_user(name)
        with _mapped():
            accounts.remove_user(hub, name)
        return Response(status_code=204)

    return router
