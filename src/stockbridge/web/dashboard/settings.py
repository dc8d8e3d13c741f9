"""The dashboard's settings page: the store's inventory source, time zone, Sync All
button and alerts, what of the catalog goes to the web store, and its Sync All schedule
(daily, every N minutes, business days).
Bad input re-renders the form with 422 and the reason; nothing is saved."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from stockbridge.bootstrap import Hub
from stockbridge.domain.model import InventorySource
from stockbridge.services.schedules import set_schedule, show_schedule
from stockbridge.services.stores import parse_payment_methods, update_books, update_store
from stockbridge.web.dashboard.inventory import PageTools, ViewerDep

__all__ = ["add_settings_routes"]


def add_settings_routes(router: APIRouter, hub: Hub, tools: PageTools) -> None:
    @router.get("/stores/{store}/settings")
    async def settings_page(request: Request, store: str, who: ViewerDep) -> Response:
        page = await tools.store_page(who, store)
        return await _settings(request, page, saved=request.query_params.get("saved"))

    async def _settings(
        request: Request,
        page: dict[str, Any],
        *,
        status: int = 200,
        error: str | None = None,
        saved: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        schedule = await run_in_threadpool(show_schedule, hub, page["store"].name)
        sync_all = next((s for s in schedule.schedules if s.step == "all"), None)
        return tools.render(
            request,
            "settings.html",
            status,
            page="settings",
            sources=list(InventorySource),
            schedule=sync_all,
            error=error,
            saved=saved,
            form=form or {},
            **page,
        )

    @router.post("/stores/{store}/settings")
    async def save_settings(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        try:
            source = InventorySource(form.get("inventory_source", ""))
            stale = form.get("stale_after_hours", "").strip()
            streak = form.get("failing_item_runs", "").strip()
            waiting = form.get("pending_order_hours", "").strip()
            drift = form.get("drift_threshold", "").strip()
            webhook = form.get("alert_webhook", "").strip()
            await run_in_threadpool(
                lambda: update_store(
                    hub,
                    store,
                    timezone=form.get("timezone", "").strip() or None,
                    inventory_source=source,
                    erp_name=form.get("erp_name", "").strip()[:200],
                    sync_all_button=form.get("sync_all_button") == "on",
                    alert_email=form.get("alert_email", "").strip(),
                    alert_webhook_url=""
                    if form.get("clear_alert_webhook") == "on"
                    else (webhook or None),
                    stale_after_hours=int(stale) if stale else None,
                    failing_item_runs=int(streak) if streak else None,
                    pending_order_hours=int(waiting) if waiting else None,
                    drift_threshold=int(drift) if drift else None,
                )
            )
        except ValueError as exc:  # InvalidSetting, an unknown source, a non-number
            message = str(exc)
            if "InventorySource" in message or "is not a valid" in message:
                message = "choose one of the inventory source modes"
            elif "invalid literal" in message:
                message = "hours and runs must be whole numbers"
            return await _settings(request, page, status=422, error=message, form=form)
        return RedirectResponse(f"/stores/{quote(store)}/settings?saved=settings", status_code=303)

    @router.post("/stores/{store}/books")
    async def save_books(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        status_text = form.get("status_after_post", "").strip()
        try:
            if status_text and not status_text.isdigit():
                raise ValueError("the status written back is a web order status id, 1-14")
            methods = parse_payment_methods(form.get("payment_methods", "")[:4000])
            status = int(status_text) if status_text else None
            web_connected = any(c.role == "web" for c in page["store"].connections)
            await run_in_threadpool(
                lambda: update_books(
                    hub,
                    store,
                    customer_mode=form.get("customer_mode", ""),
                    cancel_as=form.get("cancel_as", ""),
                    deposit_account=form.get("deposit_account", "").strip()[:65],
                    payment_methods=methods,
                    status_after_post=status,
                    status_after_post_off=status is None and web_connected,
                )
            )
        except ValueError as exc:  # InvalidSetting, a status that is not a number
            return await _settings(request, page, status=422, error=str(exc), form=form)
        return RedirectResponse(f"/stores/{quote(store)}/settings?saved=books", status_code=303)

    @router.post("/stores/{store}/catalog")
    async def save_catalog(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        try:
            await run_in_threadpool(
                lambda: update_store(
                    hub,
                    store,
                    catalog_create_new=form.get("create_new") == "on",
                    catalog_new_visible=form.get("new_visible") == "on",
                    catalog_price_source=form.get("price_source", ""),
                    catalog_push_names=form.get("push_names") == "on",
                    catalog_inactive=form.get("inactive", ""),
                )
            )
        except ValueError as exc:  # InvalidSetting: an unknown price source or action
            form = {**form, "catalog_form": "1"}
            return await _settings(request, page, status=422, error=str(exc), form=form)
        return RedirectResponse(f"/stores/{quote(store)}/settings?saved=catalog", status_code=303)

    @router.post("/stores/{store}/schedule")
    async def save_schedule(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        daily = form.get("daily_at", "").strip() or None
        every_text = form.get("every_minutes", "").strip()
        try:
            every = int(every_text) if every_text else None
            off = form.get("enabled") != "on" or (daily is None and every is None)
            await run_in_threadpool(
                lambda: set_schedule(
                    hub,
                    store,
                    daily_at=None if off else daily,
                    every_minutes=None if off else every,
                    off=off,
                    business_days=not off and form.get("business_days") == "on",
                    holidays=None if off else form.get("holidays", "").strip() or None,
                )
            )
        except ValueError as exc:
            message = (
                "minutes must be a whole number" if "invalid literal" in str(exc) else str(exc)
            )
            return await _settings(request, page, status=422, error=message, form=form)
        return RedirectResponse(f"/stores/{quote(store)}/settings?saved=schedule", status_code=303)
