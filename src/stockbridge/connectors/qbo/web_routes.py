""" "Connect to QuickBooks": the OAuth 2 consent round trip, served by ``stockbridge serve``.

    GET  /oauth/qbo/start?store=S       (dashboard session) -> Intuit's consent page
    GET  /oauth/qbo/start?store=S&link=L  (a one-time link from `connect qbo --browser`)
    GET  /oauth/qbo/callback?code&state&realmId | ?error=access_denied&state
    POST /oauth/qbo/disconnect?store=S  (dashboard session and CSRF token)

The ``state`` is single-use, expires after 10 minutes, and is bound to the browser that
started (its dashboard session, or a cookie a start link set): see ``services.oauth``.
The callback uses it up first, whatever else the answer says; then the code is exchanged
(``oauth.exchange``), the grant is checked with one API call and saved encrypted with the
realm id (``services.connect_partner``). Any failure ends on an error page and saves
nothing. Disconnecting revokes the tokens at Intuit first, then forgets them.

The app's keys and Intuit's endpoints come from the hub's settings
(``STOCKBRIDGE_QBO_CLIENT_ID``, ``STOCKBRIDGE_QBO_CLIENT_SECRET``, ...; see ``config``).
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stockbridge.bootstrap import Hub
from stockbridge.connectors.qbo import KIND
from stockbridge.connectors.qbo.oauth import (
    ConsentFailed,
    Grant,
    QboApp,
    authorization_url,
    exchange,
    revoke,
)
from stockbridge.jobs.queue import JobQueue
from stockbridge.services import oauth
from stockbridge.services.connections import (
    connect_partner,
    connection_settings,
    forget_credentials,
    stored_secrets,
)
from stockbridge.services.errors import ConnectFailed, InvalidSetting, StoreNotFound
from stockbridge.web.dashboard.guard import (
    SESSION_COOKIE,
    LoginRequired,
    Refused,
    check_csrf,
    read_form,
    set_cookie,
    viewer,
)

__all__ = ["CALLBACK_PATH", "LINK_COOKIE", "START_PATH", "routes"]

log = logging.getLogger(__name__)

START_PATH = "/oauth/qbo/start"
CALLBACK_PATH = "/oauth/qbo/callback"
DISCONNECT_PATH = "/oauth/qbo/disconnect"
#: Set by a start link: what the state it makes is bound to (no dashboard session then).
LINK_COOKIE = "sb_qbo_link"
#: Intuit: "code ... Max length: 512 characters"; a realm id is a number.
MAX_CODE = 512
REALM = re.compile(r"[0-9]{1,32}")
StoreParam = Annotated[str, Query(min_length=1, max_length=100)]
Param = Annotated[str | None, Query(max_length=2000)]
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the callback URL carries the code
    "X-Content-Type-Options": "nosniff",
}
DEFAULTS = {"batch_size": 30, "document": "sales_receipt", "doc_prefix": ""}


def app_of(hub: Hub, request: Request) -> QboApp:
    """The Intuit app from the hub's settings; 503 when its keys are not set."""
    settings = hub.settings
    if not settings.qbo_client_id or settings.qbo_client_secret is None:
        raise Refused(
            503,
            "QuickBooks is not set up on this hub: set STOCKBRIDGE_QBO_CLIENT_ID and "
            "STOCKBRIDGE_QBO_CLIENT_SECRET (the Intuit app's keys) and restart the service",
        )
    return QboApp(
        client_id=settings.qbo_client_id,
        client_secret=settings.qbo_client_secret.get_secret_value(),
        redirect_url=settings.qbo_redirect_url or str(request.url_for("qbo_callback")),
        authorize_url=settings.qbo_authorize_url,
        token_url=settings.qbo_token_url,
        revoke_url=settings.qbo_revoke_url,
        api_url=settings.qbo_api_url,
    )


def routes(hub: Hub, queue: JobQueue) -> APIRouter:
    """The QuickBooks consent routes (``queue`` is unused: connecting starts no run)."""
    router = APIRouter(include_in_schema=False)

    @router.get(START_PATH, name="qbo_start")
    async def start(request: Request, store: StoreParam, link: Param = None) -> Response:
        app = app_of(hub, request)
        cookie: str | None = None
        try:
            if link is not None:
                await run_in_threadpool(oauth.use_link, hub, KIND, store, link)
                cookie = secrets.token_urlsafe(32)
                binding = oauth.link_binding(cookie)
            else:
                who = await viewer(request)
                if not who.may_see(store):
                    raise Refused(404, f"no store named {store!r}")
                binding = oauth.session_binding(who.session_id)
            state = await run_in_threadpool(
                lambda: oauth.begin(hub, KIND, store, binding=binding, link=link)
            )
        except oauth.OAuthRefused as exc:
            raise Refused(400, str(exc)) from None
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None
        answer = RedirectResponse(authorization_url(app, state), status_code=303)
        if cookie is not None:
            max_age = int(oauth.STATE_LIFETIME.total_seconds())
            set_cookie(request, answer, LINK_COOKIE, cookie, max_age)
        return answer

    @router.get(CALLBACK_PATH, name="qbo_callback")
    async def callback(
        request: Request,
        state: Param = None,
        code: Param = None,
        realmId: Param = None,  # Intuit's name
        error: Param = None,
    ) -> Response:
        app = app_of(hub, request)
        session_id = request.cookies.get(SESSION_COOKIE, "")
        bindings = []
        if session_id:
            bindings.append(oauth.session_binding(session_id))
        if request.cookies.get(LINK_COOKIE):
            bindings.append(oauth.link_binding(request.cookies[LINK_COOKIE]))
        try:
            taken = await run_in_threadpool(oauth.take_state, hub, KIND, state or "", bindings)
        except oauth.OAuthRefused as exc:
            raise Refused(400, f"QuickBooks was not connected: {exc}") from None
        try:
            if not taken.by_link:
                try:
                    who = await viewer(request)
                except LoginRequired:
                    raise Refused(
                        403, "your session ended during the consent: log in again"
                    ) from None
                if not who.may_see(taken.store):
                    raise Refused(404, f"no store named {taken.store!r}")
            if error is not None:
                if error == "access_denied":
                    raise Refused(400, "you cancelled the consent at QuickBooks")
                raise Refused(400, f"QuickBooks answered {error!r}")
            if not code or len(code) > MAX_CODE:
                raise Refused(400, "the answer carries no valid authorization code")
            if not realmId or not REALM.fullmatch(realmId):
                raise Refused(400, "the answer carries no valid realmId (company id)")
            reached = await run_in_threadpool(_connect, hub, app, taken.store, code, realmId)
        except Refused as exc:
            detail = f"QuickBooks was not connected: {exc.message}; nothing was saved"
            await run_in_threadpool(oauth.finish, hub, taken, "failed", detail)
            raise Refused(exc.status, detail) from None
        done = f"store {taken.store!r} is connected to QuickBooks company {reached!r}"
        await run_in_threadpool(oauth.finish, hub, taken, "connected", done)
        if not taken.by_link:
            return RedirectResponse(f"/stores/{quote(taken.store, safe='')}", status_code=303)
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Connected to QuickBooks</title></head><body><main>"
            f"<h1>Connected</h1><p role='status'>{html.escape(done)}.</p>"
            "<p>You can close this window.</p></main></body></html>"
        )
        answer = HTMLResponse(page, headers=HEADERS)
        answer.delete_cookie(LINK_COOKIE, path="/")
        return answer

    @router.post(DISCONNECT_PATH, name="qbo_disconnect")
    async def disconnect(request: Request, store: StoreParam) -> Response:
        who = await viewer(request)
        form = await read_form(request)
        check_csrf(request, form, who.csrf_token)
        if not who.may_see(store):
            raise Refused(404, f"no store named {store!r}")
        redirect_url = str(request.url_for("qbo_callback"))
        await run_in_threadpool(_disconnect, hub, store, redirect_url)
        return RedirectResponse(f"/stores/{quote(store, safe='')}", status_code=303)

    return router


def _connect(hub: Hub, app: QboApp, store: str, code: str, realm_id: str) -> str:
    """Exchange the code, check the grant with one API call and save it; Refused (and
    nothing saved, the new grant revoked) on any failure."""
    try:
        grant = exchange(app, code)
    except ConsentFailed as exc:
        raise Refused(502, str(exc)) from None
    settings = {
        **DEFAULTS,
        **connection_settings(hub, store, "back_office", KIND),
        "realm_id": realm_id,
        "api_url": app.api_url,
        "token_url": app.token_url,
    }
    try:
        return connect_partner(
            hub,
            store,
            role="back_office",
            kind=KIND,
            settings=settings,
            secrets=_secrets(app, grant),
        )
    except (ConnectFailed, InvalidSetting, StoreNotFound) as exc:
        _revoke_quietly(app, grant.refresh_token)
        raise Refused(502, str(exc)) from None


def _secrets(app: QboApp, grant: Grant) -> dict[str, str]:
    """The vault entries the connector's ``TokenSource`` reads (see ``auth``)."""
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "refresh_token": grant.refresh_token,
        "access_token": grant.access_token,
        "access_expires_at": repr(grant.expires_at),
    }


def _revoke_quietly(app: QboApp, token: str) -> None:
    try:
        revoke(app, token)
    except ConsentFailed as exc:  # the grant is not saved anyway; Intuit lets it expire
        log.warning("could not revoke an unsaved QuickBooks grant: %s", exc)


def _disconnect(hub: Hub, store: str, redirect_url: str) -> None:
    """Revoke the store's tokens at Intuit (as the app that holds them: the keys saved
    with them), then forget them. If Intuit cannot be reached, nothing changes (the
    merchant may try again)."""
    try:
        held = stored_secrets(hub, store, "back_office", KIND)
    except StoreNotFound as exc:
        raise Refused(404, str(exc)) from None
    if held is None:
        raise Refused(409, f"store {store!r} has no QuickBooks connection to disconnect")
    settings = hub.settings
    app = QboApp(
        client_id=held.get("client_id", ""),
        client_secret=held.get("client_secret", ""),
        redirect_url=redirect_url,
        authorize_url=settings.qbo_authorize_url,
        token_url=settings.qbo_token_url,
        revoke_url=settings.qbo_revoke_url,
        api_url=settings.qbo_api_url,
    )
    try:
        for name in ("refresh_token", "access_token"):
            if held.get(name):
                revoke(app, held[name])
    except ConsentFailed as exc:
        raise Refused(502, f"QuickBooks was not disconnected: {exc}; nothing changed") from None
    forget_credentials(hub, store, "back_office", KIND)
