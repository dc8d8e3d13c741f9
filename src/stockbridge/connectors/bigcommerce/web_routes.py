"""The BigCommerce app's callbacks on the hub (single-click app, for an operator hosting
many stores): registered by ``bootstrap`` with ``web_routes=``, mounted by the web app.

- ``GET /bigcommerce/auth``: the install (the installing user's browser, inside the
  control panel): the code is exchanged for the store's permanent token, the store is
  created (or re-enabled, or the one already connected to that store hash), connected
  (token encrypted in the vault) and its webhooks registered, and a page in the control
  panel's iframe says so. It opens no session: the URL, with its code, would be a login
  link for whoever opened it first; the dashboard opens from the signed load.
- ``GET /bigcommerce/load``: the app opened in the control panel: the signed payload is
  verified and the store's dashboard opens as that BigCommerce user (a dashboard user
  made on first load, granted this store only) in a session the control panel may frame.
- ``GET /bigcommerce/uninstall`` (BigCommerce's server): the store stops syncing and its
  token is deleted; its history stays. A new install re-enables it.
- ``GET /bigcommerce/remove_user`` (BigCommerce's server): that user loses the store.

Without the app's client id, secret and URL in the hub's settings every route answers 503
naming the missing setting. Bad input answers 400 (missing or malformed parameters), 401
(a signed payload that fails verification: forged, expired, another app's; or one used
before, or issued before the latest install or the user's removal: each ``jti`` acts
once), 404 (a store the app is not installed for), with nothing saved.
"""

from __future__ import annotations

import html
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from stockbridge.bootstrap import Hub
from stockbridge.connectors.bigcommerce.app import (
    AppConfig,
    BadPayload,
    CodeRefused,
    Payload,
    TokenEndpointError,
    exchange_code,
    store_hash_of,
    verify_payload,
    webhook_url,
)
from stockbridge.jobs.queue import JobQueue
from stockbridge.services.app_installs import (
    APP_SESSION_LIFETIME,
    AppNotInstalled,
    CallRefused,
    PartnerUser,
    SignedCall,
    install_app,
    open_app_session,
    remove_app_user,
    uninstall_app,
)
from stockbridge.services.errors import ConnectFailed, DuplicateStore, InvalidSetting
from stockbridge.web.dashboard.guard import SESSION_COOKIE, allow_framing

__all__ = ["routes"]

KIND = "bigcommerce"
MAX_CODE = 512
MAX_SCOPE = 4096
UNINSTALLED_REASON = (
    "the BigCommerce app was uninstalled from this store: nothing syncs until it is installed again"
)


class _NotConfigured(Exception):
    pass


def _config(hub: Hub) -> AppConfig:
    settings = hub.settings
    missing = [
        f"STOCKBRIDGE_BIGCOMMERCE_{name}"
        for name, value in (
            ("CLIENT_ID", settings.bigcommerce_client_id),
            ("CLIENT_SECRET", settings.bigcommerce_client_secret),
            ("APP_URL", settings.bigcommerce_app_url),
        )
        if not value
    ]
    if missing:
        raise _NotConfigured(
            "the BigCommerce app is not set up on this hub: set " + ", ".join(missing)
        )
    assert settings.bigcommerce_client_id and settings.bigcommerce_client_secret
    assert settings.bigcommerce_app_url
    return AppConfig(
        client_id=settings.bigcommerce_client_id,
        client_secret=settings.bigcommerce_client_secret.get_secret_value(),
        app_url=settings.bigcommerce_app_url,
        login_url=settings.bigcommerce_login_url,
    )


def _control_panel(hub: Hub, store_hash: str) -> str:
    """The origin of the store's control panel: the only one that may frame its app."""
    return hub.settings.bigcommerce_control_panel.replace("{store_hash}", store_hash)


def _page(status: int, title: str, message: str, link: tuple[str, str] | None = None) -> Response:
    extra = ""
    if link is not None:
        extra = f'<p><a href="{html.escape(link[0])}" target="_self">{html.escape(link[1])}</a></p>'
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{extra}"
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _set_session(response: Response, session_id: str) -> None:
    """The session cookie as a third-party iframe needs it: SameSite=None, Secure (and
    Partitioned: kept in the control panel's own cookie jar)."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(APP_SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="none",
        secure=True,
    )
    # Python's cookie module writes the Partitioned attribute only from 3.14 on.
    name, value = response.raw_headers[-1]
    assert name == b"set-cookie"
    response.raw_headers[-1] = (name, value + b"; Partitioned")


def _call(payload: Payload) -> SignedCall:
    return SignedCall(payload.jti, payload.issued_at, payload.expires_at)


def _store_path(name: str) -> str:
    return f"/stores/{quote(name, safe='')}"


def routes(hub: Hub, queue: JobQueue) -> APIRouter:
    del queue  # the app's callbacks queue no runs
    router = APIRouter(include_in_schema=False)

    def verified(request: Request) -> Payload:
        token = request.query_params.get("signed_payload_jwt", "")
        return verify_payload(_config(hub), token)

    @router.get("/bigcommerce/auth")
    def auth(request: Request) -> Response:
        try:
            config = _config(hub)
        except _NotConfigured as exc:
            return _page(503, "Not set up", str(exc))
        params = request.query_params
        code, scope, context = params.get("code"), params.get("scope"), params.get("context")
        if not code or not scope or not context:
            return _page(
                400,
                "Install failed",
                "the install callback needs code, scope and context=stores/{store hash}",
            )
        store_hash = store_hash_of(context)
        if store_hash is None or len(code) > MAX_CODE or len(scope) > MAX_SCOPE:
            return _page(
                400,
                "Install failed",
                f"the install callback's context must be stores/{{store hash}}, its code at "
                f"most {MAX_CODE} and its scope at most {MAX_SCOPE} characters",
            )
        try:
            with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)) as client:
                grant = exchange_code(
                    config, code=code, scope=scope, context=context, client=client
                )
        except CodeRefused as exc:
            return _page(400, "Install failed", str(exc))
        except TokenEndpointError as exc:
            return _page(502, "Install failed", str(exc))
        framers = _control_panel(hub, store_hash)
        settings = hub.settings

        def connection_settings(name: str) -> dict[str, object]:
            return {
                "store_hash": grant.store_hash,
                "api_url": settings.bigcommerce_api_url.rstrip("/"),
                "webhook_url": webhook_url(config.app_url, name),
            }

        def owner_of() -> PartnerUser | None:
            return PartnerUser(grant.owner.id, grant.owner.email) if grant.owner else None

        try:
            installed = install_app(
                hub,
                kind=KIND,
                external_id=grant.store_hash,
                store_name=f"bigcommerce-{grant.store_hash}",
                match_setting="store_hash",
                settings_for=connection_settings,
                secrets={"access_token": grant.access_token},
                installer=PartnerUser(grant.user.id, grant.user.email),
                owner=owner_of(),
                scope=grant.scope,
                account_uuid=grant.account_uuid,
            )
        except ConnectFailed as exc:
            return _page(502, "Install failed", str(exc))
        except DuplicateStore:  # two installs of one new store at once: this one lost
            return _page(409, "Install failed", "this store is being installed already")
        except InvalidSetting as exc:
            return _page(422, "Install failed", str(exc))
        allow_framing(request, framers)
        what = "installed again" if installed.reenabled else "installed"
        # No session here: this URL (its code in the query) would sign in whoever opened
        # it first. The dashboard opens from the control panel's signed load, used once.
        return _page(
            200,
            "Stockbridge is installed",
            f"Stockbridge is {what} for this store ({installed.store}): {installed.reached}. "
            "Open Stockbridge from the Apps menu of the control panel to see its dashboard.",
        )

    @router.get("/bigcommerce/load")
    def load(request: Request) -> Response:
        try:
            payload = verified(request)
        except _NotConfigured as exc:
            return _page(503, "Not set up", str(exc))
        except BadPayload as exc:
            return _page(_bad_payload_status(request), "Cannot open Stockbridge", str(exc))
        framers = _control_panel(hub, payload.store_hash)
        try:
            opened = open_app_session(
                hub,
                kind=KIND,
                external_id=payload.store_hash,
                user=PartnerUser(payload.user.id, payload.user.email),
                frame_ancestors=framers,
                call=_call(payload),
            )
        except CallRefused as exc:
            return _page(401, "Cannot open Stockbridge", str(exc))
        except AppNotInstalled:
            return _page(
                404,
                "Cannot open Stockbridge",
                f"the app is not installed for store {payload.store_hash}: install it first",
            )
        allow_framing(request, framers)
        response = RedirectResponse(_store_path(opened.store), status_code=303)
        _set_session(response, opened.session_id)
        return response

    @router.get("/bigcommerce/uninstall")
    async def uninstall(request: Request) -> Response:
        try:
            payload = verified(request)
        except _NotConfigured as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except BadPayload as exc:
            return JSONResponse({"error": str(exc)}, status_code=_bad_payload_status(request))
        try:
            done = await run_in_threadpool(
                lambda: uninstall_app(
                    hub,
                    kind=KIND,
                    external_id=payload.store_hash,
                    reason=UNINSTALLED_REASON,
                    call=_call(payload),
                )
            )
        except CallRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        except AppNotInstalled as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return JSONResponse(
            {
                "store": done.store,
                "uninstalled": True,
                "already": done.already,
                "paused_schedules": done.paused_schedules,
                "failed_queued_runs": done.failed_queued_runs,
                "users_removed": done.users_removed,
            }
        )

    @router.get("/bigcommerce/remove_user")
    async def remove_user(request: Request) -> Response:
        try:
            payload = verified(request)
        except _NotConfigured as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except BadPayload as exc:
            return JSONResponse({"error": str(exc)}, status_code=_bad_payload_status(request))
        user = PartnerUser(payload.user.id, payload.user.email)
        try:
            removed = await run_in_threadpool(
                lambda: remove_app_user(
                    hub, kind=KIND, external_id=payload.store_hash, user=user, call=_call(payload)
                )
            )
        except CallRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        except AppNotInstalled as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except InvalidSetting as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"user": payload.user.id, "removed": removed})

    return router


def _bad_payload_status(request: Request) -> int:
    """400 when the parameter is missing, 401 when it is there but fails verification."""
    return 400 if not request.query_params.get("signed_payload_jwt") else 401
