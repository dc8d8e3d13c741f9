"""The BigCommerce sandbox's single-click app flow, as BigCommerce documents it
(docs/facts-bigcommerce-app.md):

GET  /app/{client_id}/install?store_hash=&user_id=   the consent page (the "Install" click
                                                     in the control panel)
POST /app/{client_id}/install  (form: store_hash, user_id)
     -> 302 to the app's auth callback ?code=&context=stores/{hash}&scope=&account_uuid=
POST /oauth2/token   JSON (or form) {client_id, client_secret, code, context, scope,
     grant_type: "authorization_code", redirect_uri} -> {access_token, scope, user: {id,
     username, email}, owner: {...}, context, account_uuid}. A code works once and for 10
     minutes, for the app, store and scope it was issued with; ``redirect_uri`` must be the
     registered auth callback. Errors (not documented by BigCommerce): RFC 6749 5.2 bodies,
     400 ``invalid_request`` / ``invalid_grant``, 401 ``invalid_client``.

The admin side (``/admin/...``, no auth) registers apps and users and fires the callbacks
the control panel would, each with a ``signed_payload_jwt`` (HS256 with the app's client
secret; ``aud`` client id, ``iss`` "bc", ``sub`` stores/{hash}, ``iat`` = ``nbf``, ``exp``
24 hours later, ``jti``, ``user`` {id, email, locale}, ``owner`` {id, email}, ``url``,
``channel_id``):

POST /admin/apps                                    {client_id, client_secret,
                                                     auth_callback, load_callback,
                                                     uninstall_callback,
                                                     remove_user_callback, scope}
POST /admin/stores/{hash}/users                     {email, username} -> {id}
POST /admin/apps/{client_id}/stores/{hash}/load     {user_id} -> {url} (the browser opens it)
POST /admin/apps/{client_id}/stores/{hash}/uninstall    {user_id}: the app's token stops
                                                     working, then the uninstall callback
                                                     is called -> {status, body}
POST /admin/apps/{client_id}/stores/{hash}/remove_user  {user_id} -> {status, body}
"""

from __future__ import annotations

import html
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from stockbridge.connectors.bigcommerce.sandbox.state import SStore, SUser
from stockbridge.connectors.bigcommerce.sandbox.wire import body_of, error, guarded

if TYPE_CHECKING:
    from stockbridge.connectors.bigcommerce.sandbox.server import BigCommerceSandbox

__all__ = ["CODE_SECONDS", "JWT_SECONDS", "SApp", "app_routes", "signed_payload"]

CODE_SECONDS = 600
JWT_SECONDS = 24 * 3600


@dataclass
class SApp:
    client_id: str
    client_secret: str
    auth_callback: str
    load_callback: str
    uninstall_callback: str
    remove_user_callback: str
    scope: str
    account_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class _Code:
    client_id: str
    store_hash: str
    user_id: int
    scope: str
    expires: float


def signed_payload(app: SApp, store: SStore, user: SUser, *, now: float | None = None) -> str:
    """The ``signed_payload_jwt`` BigCommerce sends the app's load, uninstall and
    remove_user callbacks."""
    moment = int(now if now is not None else time.time())
    owner = store.owner()
    claims: dict[str, Any] = {
        "aud": app.client_id,
        "iss": "bc",
        "iat": moment,
        "nbf": moment,
        "exp": moment + JWT_SECONDS,
        "jti": str(uuid.uuid4()),
        "sub": f"stores/{store.hash}",
        "user": {"id": user.id, "email": user.email, "locale": "en-US"},
        "owner": {"id": owner.id, "email": owner.email},
        "url": "/",
        "channel_id": None,
    }
    return jwt.encode(claims, app.client_secret, algorithm="HS256")


def _oauth_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


def app_routes(sb: BigCommerceSandbox) -> list[Route]:
    """The install flow, the token endpoint and the app admin endpoints of ``sb``."""

    def store_and_user(store_hash: str, user_id: Any) -> tuple[SStore, SUser] | None:
        store = sb.stores.get(store_hash)
        if store is None:
            return None
        try:
            user = store.users.get(int(user_id)) if user_id is not None else store.owner()
        except (TypeError, ValueError):
            return None
        return (store, user) if user is not None else None

    async def consent(request: Request) -> Response:
        app = sb.apps.get(request.path_params["client_id"])
        found = store_and_user(
            request.query_params.get("store_hash", ""), request.query_params.get("user_id")
        )
        if app is None or found is None:
            return error(404, "Unknown app, store or user")
        store, user = found
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in app.scope.split())
        page = (
            "<!doctype html><html><head><title>Install app</title></head><body>"
            f"<h1>Install {html.escape(app.client_id)} on store {html.escape(store.hash)}</h1>"
            f"<p>Signed in as {html.escape(user.email)}. The app asks for:</p><ul>{scopes}</ul>"
            f'<form method="post"><input type="hidden" name="store_hash" '
            f'value="{html.escape(store.hash)}"><input type="hidden" name="user_id" '
            f'value="{user.id}"><button type="submit">Install</button></form></body></html>'
        )
        return HTMLResponse(page)

    async def install(request: Request) -> Response:
        app = sb.apps.get(request.path_params["client_id"])
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        found = store_and_user(form.get("store_hash", ""), form.get("user_id"))
        if app is None or found is None:
            return error(404, "Unknown app, store or user")
        store, user = found
        code = secrets.token_urlsafe(16)
        with sb.lock:
            sb.codes[code] = _Code(
                app.client_id, store.hash, user.id, app.scope, time.monotonic() + CODE_SECONDS
            )
        query = urlencode(
            {
                "account_uuid": app.account_uuid,
                "code": code,
                "context": f"stores/{store.hash}",
                "scope": app.scope,
            }
        )
        return RedirectResponse(f"{app.auth_callback}?{query}", status_code=302)

    async def token(request: Request) -> Response:
        raw = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            body: Any = dict(parse_qsl(raw.decode("utf-8", "replace")))
        else:
            body = await body_of(request)
        if not isinstance(body, dict):
            return _oauth_error(400, "invalid_request", "the body must be JSON or a form")
        wanted = ("client_id", "client_secret", "code", "context", "scope", "grant_type")
        missing = [k for k in (*wanted, "redirect_uri") if not isinstance(body.get(k), str)]
        if missing:
            return _oauth_error(400, "invalid_request", f"missing {', '.join(missing)}")
        if body["grant_type"] != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "grant_type: authorization_code")
        app = sb.apps.get(body["client_id"])
        if app is None or not secrets.compare_digest(body["client_secret"], app.client_secret):
            return _oauth_error(401, "invalid_client", "unknown client or wrong client secret")
        if body["redirect_uri"] != app.auth_callback:
            return _oauth_error(400, "invalid_grant", "redirect_uri is not the auth callback")
        with sb.lock:
            issued = sb.codes.pop(body["code"], None)  # single use, whatever happens next
        if (
            issued is None
            or issued.expires < time.monotonic()
            or issued.client_id != app.client_id
            or f"stores/{issued.store_hash}" != body["context"]
            or issued.scope != body["scope"]
        ):
            return _oauth_error(400, "invalid_grant", "the code is unknown, used or expired")
        store = sb.stores.get(issued.store_hash)
        user = store.users.get(issued.user_id) if store is not None else None
        if store is None or user is None:
            return _oauth_error(400, "invalid_grant", "the store or user is gone")
        access_token = secrets.token_urlsafe(24)
        store.app_tokens[app.client_id] = access_token  # a new install replaces the token
        owner = store.owner()
        return JSONResponse(
            {
                "access_token": access_token,
                "scope": issued.scope,
                "user": user.as_json(),
                "owner": owner.as_json(),
                "context": f"stores/{store.hash}",
                "account_uuid": app.account_uuid,
            }
        )

    async def register_app(request: Request) -> Response:
        body = await body_of(request)
        names = (
            "client_id",
            "client_secret",
            "auth_callback",
            "load_callback",
            "uninstall_callback",
            "remove_user_callback",
            "scope",
        )
        if not isinstance(body, dict) or not all(isinstance(body.get(n), str) for n in names):
            return error(422, f"{', '.join(names)} are required")
        app = SApp(**{n: str(body[n]) for n in names})
        sb.apps[app.client_id] = app
        return JSONResponse({"client_id": app.client_id, "account_uuid": app.account_uuid}, 201)

    async def add_user(request: Request) -> Response:
        store = sb.stores.get(request.path_params["hash"])
        body = await body_of(request)
        if store is None or not isinstance(body, dict) or not isinstance(body.get("email"), str):
            return error(422, "unknown store, or no email")
        user = SUser(next(sb.ids), str(body.get("username") or body["email"]), body["email"])
        store.users[user.id] = user
        return JSONResponse(user.as_json(), status_code=201)

    def app_store_user(request: Request, body: Any) -> tuple[SApp, SStore, SUser] | None:
        app = sb.apps.get(request.path_params["client_id"])
        user_id = body.get("user_id") if isinstance(body, dict) else None
        found = store_and_user(request.path_params["hash"], user_id)
        return (app, *found) if app is not None and found is not None else None

    async def load(request: Request) -> Response:
        found = app_store_user(request, await body_of(request))
        if found is None:
            return error(404, "Unknown app, store or user")
        app, store, user = found
        query = urlencode({"signed_payload_jwt": signed_payload(app, store, user)})
        return JSONResponse({"url": f"{app.load_callback}?{query}"})

    async def fire(request: Request, which: str) -> Response:
        found = app_store_user(request, await body_of(request))
        if found is None:
            return error(404, "Unknown app, store or user")
        app, store, user = found
        if which == "uninstall":
            store.app_tokens.pop(app.client_id, None)  # the app's token stops working
            callback = app.uninstall_callback
        else:
            if user.id != store.owner().id:  # the owner cannot lose the app
                store.users.pop(user.id, None)
            callback = app.remove_user_callback
        query = urlencode({"signed_payload_jwt": signed_payload(app, store, user)})
        async with httpx.AsyncClient(timeout=10.0) as client:
            try:
                answer = await client.get(
                    f"{callback}?{query}", headers={"Accept": "application/json"}
                )
            except httpx.HTTPError as exc:
                return JSONResponse({"status": None, "error": str(exc)})
        try:
            answered: Any = answer.json()
        except ValueError:
            answered = answer.text
        return JSONResponse({"status": answer.status_code, "body": answered})

    async def uninstall(request: Request) -> Response:
        return await fire(request, "uninstall")

    async def remove_user(request: Request) -> Response:
        return await fire(request, "remove_user")

    on_store = "/admin/apps/{client_id}/stores/{hash}"
    return [
        Route("/app/{client_id}/install", guarded(consent), methods=["GET"]),
        Route("/app/{client_id}/install", guarded(install), methods=["POST"]),
        Route("/oauth2/token", guarded(token), methods=["POST"]),
        Route("/admin/apps", guarded(register_app), methods=["POST"]),
        Route("/admin/stores/{hash}/users", guarded(add_user), methods=["POST"]),
        Route(f"{on_store}/load", guarded(load), methods=["POST"]),
        Route(f"{on_store}/uninstall", guarded(uninstall), methods=["POST"]),
        Route(f"{on_store}/remove_user", guarded(remove_user), methods=["POST"]),
    ]
