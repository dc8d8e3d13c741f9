"""The sandbox's authorization endpoint: Intuit's consent page, as a merchant sees it.

    GET  /connect/oauth2?client_id&response_type=code&scope&redirect_uri&state
    POST /connect/oauth2   (the page's form: Connect or Cancel)

As Intuit's OAuth 2.0 server does: an unknown ``client_id`` or a ``redirect_uri`` not
registered for the app gets an error page and no redirect; a wrong ``response_type`` or
a scope without ``com.intuit.quickbooks.accounting`` is sent back as ``error=...``;
Connect sends the browser to ``redirect_uri`` with ``code``, ``state`` and ``realmId``;
Cancel with ``error=access_denied`` and ``state``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from stockbridge.connectors.qbo.sandbox.app import QboSandbox

__all__ = ["ACCOUNTING_SCOPE", "AUTHORIZE_PATH", "consent_routes"]

AUTHORIZE_PATH = "/connect/oauth2"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
MAX_PARAM = 2000


def consent_routes(sandbox: QboSandbox) -> list[Route]:
    return [Route(AUTHORIZE_PATH, _Consent(sandbox).handle, methods=["GET", "POST"])]


class _Consent:
    def __init__(self, sandbox: QboSandbox) -> None:
        self.sandbox = sandbox

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            params = dict(request.query_params)
        else:
            body = (await request.body()).decode(errors="replace")
            params = dict(parse_qsl(body, keep_blank_values=True, max_num_fields=20))
        if any(len(v) > MAX_PARAM for v in params.values()):
            return _page("Request too long", "The authorization request is too long.", 400)
        books = self.sandbox.books
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id != books.client_id:
            return _page("Invalid client", "This app is not known (client_id).", 400)
        registered = not books.redirect_uris or redirect_uri in books.redirect_uris
        if not redirect_uri.startswith(("http://", "https://")) or not registered:
            return _page("Invalid redirect", "The redirect_uri is not registered.", 400)
        state = params.get("state", "")
        if params.get("response_type") != "code":
            return _back(redirect_uri, error="unsupported_response_type", state=state)
        if ACCOUNTING_SCOPE not in params.get("scope", "").split():
            return _back(redirect_uri, error="invalid_scope", state=state)
        if request.method == "GET":
            return self._consent_page(params)
        if params.get("decision") != "connect":
            return _back(redirect_uri, error="access_denied", state=state)
        code = books.issue_code(redirect_uri)
        return _back(redirect_uri, code=code, state=state, realmId=books.realm_id)

    def _consent_page(self, params: dict[str, str]) -> Response:
        books = self.sandbox.books
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(params[k])}">'
            for k in ("client_id", "response_type", "scope", "redirect_uri", "state")
            if k in params
        )
        body = (
            f"<p>An app wants to connect to <strong>{html.escape(books.company_name)}</strong>"
            f" (company {html.escape(books.realm_id)}) and read and change its accounting"
            " data.</p>"
            f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
            '<button type="submit" name="decision" value="connect">Connect</button> '
            '<button type="submit" name="decision" value="cancel">Cancel</button></form>'
        )
        return _page("Connect to QuickBooks (sandbox)", body, 200, raw=True)


def _back(redirect_uri: str, **params: str) -> Response:
    joiner = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{joiner}{urlencode(params)}", status_code=302)


def _page(title: str, body: str, status: int, *, raw: bool = False) -> Response:
    text = body if raw else f"<p>{html.escape(body)}</p>"
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head><body><main><h1>{html.escape(title)}</h1>{text}</main></body></html>",
        status_code=status,
    )
