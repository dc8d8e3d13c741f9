"""Setting up in the browser: a first-run path a merchant finishes without the command
line, and the store's API tokens page.

- ``/setup`` (operators): add a store (name, time zone, inventory mode). The store list
  offers it when the hub has no store, and the header's "Add store" link any time.
- ``/stores/{store}/setup``: a checklist of forms, each posting to its own route and
  coming back here: the web store (a BigCommerce API account's store hash and access
  token, checked with one call before it is saved), the back office ("Connect to
  QuickBooks", which starts the QuickBooks consent flow at ``/oauth/qbo/start``, or a
  feed source with a "test this source" preview of its first rows), when Sync All runs by
  itself, the first API token, and (operators) the users who may see the store.
- ``/stores/{store}/tokens``: the store's API tokens (id, state, created, last used,
  expires), revoke, and create with an expiry; a new token is shown once, on the page
  answering the form, and never again.

Secrets typed into a form (access tokens, feed credentials, passwords) are never shown
back: a form re-rendered after an error keeps only its other fields, and nothing here
logs a form. Bad input re-renders the page with the reason and a 4xx; nothing is saved
(the use cases check everything first). Operator-only forms answer 403 to other users.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from stockbridge import accounts
from stockbridge.bootstrap import Hub
from stockbridge.domain.model import InventorySource
from stockbridge.services.errors import (
    ConnectFailed,
    DuplicateStore,
    InvalidSetting,
    StoreNotFound,
)
from stockbridge.services.onboarding import (
    FeedForm,
    FeedPreview,
    connect_feed,
    connect_web_store,
    preview_feed,
)
from stockbridge.services.schedules import set_schedule, show_schedule
from stockbridge.services.stores import add_store, list_stores
from stockbridge.services.tokens import (
    MAX_TOKEN_DAYS,
    IssuedToken,
    TokenNotFound,
    issue_token,
    list_tokens,
    revoke_token,
)
from stockbridge.web.dashboard.guard import Refused, RunId, Viewer
from stockbridge.web.dashboard.inventory import PageTools, ViewerDep

__all__ = ["SECRET_FIELDS", "add_setup_routes"]

#: Form fields that hold secrets: never rendered back into a page.
SECRET_FIELDS = frozenset({"access_token", "token", "password", "csrf_token"})
#: Where the QuickBooks consent flow starts (its routes live with the QuickBooks connector).
QBO_START = "/oauth/qbo/start"


def _kept(form: dict[str, str]) -> dict[str, str]:
    """The form without its secrets, to fill a re-rendered page."""
    return {k: v for k, v in form.items() if k not in SECRET_FIELDS}


def _operator_only(who: Viewer) -> None:
    if not who.operator:
        raise Refused(403, "only an operator may do this")


def _days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        raise InvalidSetting(f"days until it expires: a whole number, 1-{MAX_TOKEN_DAYS}")
    return int(text)


def add_setup_routes(router: APIRouter, hub: Hub, tools: PageTools) -> None:
    # a new store ---------------------------------------------------------------------

    def _new_store_page(
        request: Request,
        who: Viewer,
        status: int = 200,
        *,
        error: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        return tools.render(
            request,
            "setup_store.html",
            status,
            who=who,
            sources=list(InventorySource),
            error=error,
            form=_kept(form or {}),
            timezone="UTC",
        )

    @router.get("/setup")
    async def new_store(request: Request, who: ViewerDep) -> Response:
        _operator_only(who)
        return _new_store_page(request, who)

    @router.post("/setup")
    async def create_store(request: Request, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        _operator_only(who)
        name = form.get("name", "").strip()
        try:
            source = InventorySource(form.get("inventory_source", "back_office"))
        except ValueError:
            return _new_store_page(
                request, who, 422, error="choose one of the inventory modes", form=form
            )
        try:
            await run_in_threadpool(
                lambda: add_store(
                    hub,
                    name,
                    timezone=form.get("timezone", "").strip() or "UTC",
                    inventory_source=source,
                )
            )
        except DuplicateStore as exc:
            return _new_store_page(request, who, 409, error=str(exc), form=form)
        except InvalidSetting as exc:
            return _new_store_page(request, who, 422, error=str(exc), form=form)
        return RedirectResponse(f"/stores/{quote(name)}/setup", status_code=303)

    # the store's checklist -------------------------------------------------------------

    async def _setup_page(
        request: Request,
        page: dict[str, Any],
        status: int = 200,
        *,
        error: str | None = None,
        section: str | None = None,
        form: dict[str, str] | None = None,
        done: str | None = None,
        preview: FeedPreview | None = None,
    ) -> Response:
        store = page["store"].name
        who: Viewer = page["who"]
        schedule = await run_in_threadpool(show_schedule, hub, store)
        tokens = await run_in_threadpool(list_tokens, hub, {store})
        users = await run_in_threadpool(accounts.list_users, hub) if who.operator else []
        all_stores = (
            [s.name for s in await run_in_threadpool(list_stores, hub)] if who.operator else []
        )
        connected = {c.role: c for c in page["store"].connections}
        return tools.render(
            request,
            "setup.html",
            status,
            page="setup",
            web=connected.get("web"),
            back_office=connected.get("back_office"),
            schedule=next((s for s in schedule.schedules if s.step == "all"), None),
            live_tokens=[t for t in tokens if t.state == "live"],
            users=[u for u in users if u.operator or store in u.stores],
            all_stores=all_stores,
            qbo_start=f"{QBO_START}?store={quote(store, safe='')}",
            error=error,
            section=section,
            form=_kept(form or {}),
            done=done or request.query_params.get("done"),
            preview=preview,
            **page,
        )

    def _back(store: str, done: str) -> RedirectResponse:
        return RedirectResponse(f"/stores/{quote(store)}/setup?done={done}#{done}", 303)

    @router.get("/stores/{store}/setup")
    async def setup_page(request: Request, store: str, who: ViewerDep) -> Response:
        return await _setup_page(request, await tools.store_page(who, store))

    @router.post("/stores/{store}/setup/web")
    async def setup_web(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        try:
            await run_in_threadpool(
                lambda: connect_web_store(
                    hub,
                    store,
                    store_hash=form.get("store_hash", ""),
                    access_token=form.get("access_token", ""),
                    api_url=form.get("api_url", "").strip() or None,
                    trusted=who.operator,
                )
            )
        except (InvalidSetting, ConnectFailed) as exc:
            return await _setup_page(request, page, 422, error=str(exc), section="web", form=form)
        return _back(store, "web")

    def _feed_form(form: dict[str, str]) -> FeedForm:
        return FeedForm(
            source=form.get("source", ""),
            format=form.get("format", "csv"),
            sku_field=form.get("sku_field", "sku"),
            quantity_field=form.get("quantity_field", "quantity"),
            location_field=form.get("location_field", "location"),
            price_field=form.get("price_field", "price"),
            name_field=form.get("name_field", "name"),
            delimiter=form.get("delimiter", ",") or ",",
            missing=form.get("missing", "keep"),
            auth=form.get("auth", "none"),
            token=form.get("token", ""),
            username=form.get("username", ""),
            password=form.get("password", ""),
        )

    @router.post("/stores/{store}/setup/feed")
    async def setup_feed(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        feed = _feed_form(form)
        try:
            if form.get("action") == "preview":
                shown = await run_in_threadpool(
                    lambda: preview_feed(hub, feed, trusted=who.operator)
                )
                return await _setup_page(
                    request, page, section="back-office", form=form, preview=shown
                )
            await run_in_threadpool(lambda: connect_feed(hub, store, feed, trusted=who.operator))
        except (InvalidSetting, ConnectFailed) as exc:
            return await _setup_page(
                request, page, 422, error=str(exc), section="back-office", form=form
            )
        return _back(store, "back-office")

    @router.post("/stores/{store}/setup/schedule")
    async def setup_schedule(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        daily = form.get("daily_at", "").strip() or None
        every_text = form.get("every_minutes", "").strip()
        try:
            if every_text and not (every_text.isascii() and every_text.isdigit()):
                raise InvalidSetting("minutes must be a whole number")
            every = int(every_text) if every_text else None
            off = form.get("enabled") != "on"
            await run_in_threadpool(
                lambda: set_schedule(
                    hub,
                    store,
                    daily_at=None if off else daily,
                    every_minutes=None if off else every,
                    off=off,
                    business_days=not off and form.get("business_days") == "on",
                )
            )
        except InvalidSetting as exc:
            return await _setup_page(
                request, page, 422, error=str(exc), section="schedule", form=form
            )
        return _back(store, "schedule")

    @router.post("/stores/{store}/setup/user")
    async def setup_user(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        _operator_only(who)
        operator = form.get("role") == "operator"
        stores = [] if operator else [store]
        try:
            await run_in_threadpool(
                lambda: accounts.add_user(
                    hub,
                    form.get("username", ""),
                    form.get("password", ""),
                    stores=stores,
                    operator=operator,
                )
            )
        except (accounts.InvalidAccount, StoreNotFound) as exc:
            status = 409 if "already exists" in str(exc) else 422
            return await _setup_page(
                request, page, status, error=str(exc), section="users", form=form
            )
        return _back(store, "users")

    # tokens ----------------------------------------------------------------------------

    async def _tokens_page(
        request: Request,
        page: dict[str, Any],
        status: int = 200,
        *,
        error: str | None = None,
        issued: IssuedToken | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        tokens = await run_in_threadpool(list_tokens, hub, {page["store"].name})
        return tools.render(
            request,
            "tokens.html",
            status,
            page="tokens",
            tokens=tokens,
            issued=issued,
            error=error,
            revoked=request.query_params.get("revoked"),
            max_days=MAX_TOKEN_DAYS,
            form=_kept(form or {}),
            **page,
        )

    @router.get("/stores/{store}/tokens")
    async def tokens_page(request: Request, store: str, who: ViewerDep) -> Response:
        return await _tokens_page(request, await tools.store_page(who, store))

    @router.post("/stores/{store}/tokens")
    async def create_token(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        try:
            days = _days(form.get("expires_in_days", ""))
            issued = await run_in_threadpool(
                lambda: issue_token(hub, store, operator=False, expires_in_days=days)
            )
        except InvalidSetting as exc:
            return await _tokens_page(request, page, 422, error=str(exc), form=form)
        # Shown once, on this answer (never cached: the page headers say no-store).
        return await _tokens_page(request, page, issued=issued)

    @router.post("/stores/{store}/tokens/{token_id}/revoke")
    async def revoke(request: Request, store: str, token_id: RunId, who: ViewerDep) -> Response:
        await tools.posted(request, who)
        await tools.store_page(who, store)
        try:
            await run_in_threadpool(revoke_token, hub, token_id, {store})
        except TokenNotFound as exc:
            raise Refused(404, str(exc)) from None
        return RedirectResponse(f"/stores/{quote(store)}/tokens?revoked={token_id}", 303)
