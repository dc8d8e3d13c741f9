"""The QuickBooks sandbox's ASGI app: OAuth endpoints, rate limits and fault injection
around the company API (``company``), and the admin API (``admin``)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockbridge.connectors.qbo.sandbox.admin import FaultRule, Limits, Replay, admin_routes
from stockbridge.connectors.qbo.sandbox.books import Books
from stockbridge.connectors.qbo.sandbox.company import CompanyApi
from stockbridge.connectors.qbo.sandbox.consent import AUTHORIZE_PATH, consent_routes
from stockbridge.connectors.qbo.sandbox.wire import QboFault
from stockbridge.connectors.qbo.sandbox.wire import fault_response as _fault
from stockbridge.connectors.qbo.sandbox.wire import json_response as _json

__all__ = ["QboSandbox"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
DISCOVERY_PATH = "/.well-known/openid_configuration"
#: Endpoints outside the realm's API: no realm quota, no random faults.
AUTH_ENDPOINTS = frozenset({"token", "revoke", "discovery", "authorize"})
MIN_MINOR_VERSION = 75


class QboSandbox:
    """``QboSandbox()`` is the ASGI app; ``books``, ``limits`` and ``counters`` are its
    state (also reachable through ``/admin``)."""

    def __init__(self, books: Books | None = None, *, seed: int = 0) -> None:
        self.books = books or Books()
        self.limits = Limits()
        self.calls: Counter[str] = Counter()
        self.throttled = 0
        self.replays = 0
        self.unauthorized = 0  # 401s answered
        self.injected: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self.plan: list[FaultRule] = []
        self.fault_rate = 0.0
        self.rng = random.Random(seed)
        self.replay = Replay()
        self.app = Starlette(routes=self._routes())

    # ASGI: limits and faults around the routes ----------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/admin/"):
            await self.app(scope, receive, send)
            return
        endpoint = _endpoint(scope["path"])
        self.calls[endpoint] += 1
        if endpoint not in AUTH_ENDPOINTS and not self.limits.admit(endpoint):
            self.throttled += 1
            headers = {}
            if self.limits.retry_after is not None:
                headers["Retry-After"] = str(self.limits.retry_after)
            fault = QboFault(
                "003001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                detail="The request limit for this company has been exceeded",
                type="ThrottleExceeded",
                status=429,
            )
            await _json(fault.body(), 429, headers)(scope, receive, send)
            return
        self.limits.in_flight += 1
        try:
            await self._serve(endpoint, scope, receive, send)
        finally:
            self.limits.in_flight -= 1

    async def _serve(self, endpoint: str, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._draw(endpoint)
        kind = rule.kind if rule else None
        if rule is not None:
            self.injected[f"{endpoint}:{kind}"] += 1
        if kind == "latency":
            await asyncio.sleep(rule.seconds if rule else 0.0)
        elif kind == "expire_tokens":  # every access token ends now, this call included
            self.books.expire_access_tokens()
        elif kind == "error":
            fault = QboFault("10000", "An application error has occurred", type="SystemFault")
            await _json(fault.body(), 503)(scope, receive, send)
            return
        elif kind == "drop":
            await _drop(send)
            return
        elif kind in ("bad_json", "empty_object"):
            text = b'{"QueryResponse": {"Item": [' if kind == "bad_json" else b"{}"
            await Response(text, 200, media_type="application/json")(scope, receive, send)
            return
        if kind == "applied_drop":

            async def swallow(_message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _drop(send)
            return
        await self.app(scope, receive, send)

    def _draw(self, endpoint: str) -> FaultRule | None:
        for rule in self.plan:
            if rule.times > 0 and rule.path in (endpoint, "*"):
                if rule.skip > 0:
                    rule.skip -= 1
                    return None
                rule.times -= 1
                return rule
        random_faults = self.fault_rate and endpoint not in AUTH_ENDPOINTS
        if random_faults and self.rng.random() < self.fault_rate:
            return FaultRule(endpoint, self.rng.choice(("error", "drop", "applied_drop")))
        return None

    # the API ------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        company = "/v3/company/{realm}"
        api = CompanyApi(self)
        return [
            Route(DISCOVERY_PATH, self.discovery, methods=["GET"]),
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route(REVOKE_PATH, self.revoke, methods=["POST"]),
            Route(f"{company}/companyinfo/{{id}}", self.api(api.company_info), methods=["GET"]),
            Route(f"{company}/query", self.api(api.query), methods=["GET", "POST"]),
            Route(f"{company}/cdc", self.api(api.cdc), methods=["GET"]),
            Route(f"{company}/batch", self.api(api.batch), methods=["POST"]),
            Route(f"{company}/{{entity}}", self.api(api.create), methods=["POST"]),
            *consent_routes(self),
            Route(f"{company}/{{entity}}/{{id}}", self.api(api.read), methods=["GET"]),
            *admin_routes(self),
        ]

    async def discovery(self, request: Request) -> Response:
        """Intuit's OpenID discovery document, pointing at this sandbox: intuit-oauth's
        ``AuthClient`` takes its URL as the ``environment`` and reads the endpoints here."""
        base = str(request.base_url).rstrip("/")
        return _json(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
                "token_endpoint": f"{base}{TOKEN_PATH}",
                "revocation_endpoint": f"{base}{REVOKE_PATH}",
                "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
                "jwks_uri": f"{base}/v1/openid_connect/keys",
            }
        )

    async def revoke(self, request: Request) -> Response:
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        if not self.books.client_ok(client_id, client_secret):
            return _json({"error": "invalid_client"}, 401)
        try:
            token = json.loads(await request.body()).get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not self.books.revoke(token):
            return _json({"error": "invalid_token"}, 400)
        return Response(status_code=200)

    async def token(self, request: Request) -> Response:
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        if not self.books.client_ok(client_id, client_secret):
            return _json({"error": "invalid_client"}, 401)
        form = parse_qs((await request.body()).decode(errors="replace"))
        grant = form.get("grant_type")
        if grant == ["authorization_code"]:
            code = (form.get("code") or [""])[0]
            answer = self.books.redeem(code, (form.get("redirect_uri") or [""])[0])
        elif grant == ["refresh_token"]:
            answer = self.books.refresh((form.get("refresh_token") or [""])[0])
        else:
            return _json({"error": "unsupported_grant_type"}, 400)
        if answer is None:
            return _json({"error": "invalid_grant"}, 400)
        return _json(answer)

    def api(
        self, handler: Callable[[Request], Awaitable[Any]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The checks every API call passes: realm, minorversion, Accept, bearer token."""

        async def guarded(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not self.books.access_ok(token):
                self.unauthorized += 1
                return _fault(
                    QboFault(
                        "3200",
                        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                        type="AuthenticationFault",
                        status=401,
                    )
                )
            if request.path_params["realm"] != self.books.realm_id:
                return _fault(
                    QboFault(
                        "3100",
                        "ApplicationAuthorizationFailed",
                        type="AuthorizationFault",
                        status=403,
                    )
                )
            if "application/json" not in request.headers.get("accept", ""):
                return Response("<IntuitResponse/>", 200, media_type="application/xml")
            minor = request.query_params.get("minorversion", "")
            if not minor.isdigit() or int(minor) < MIN_MINOR_VERSION:
                return _fault(
                    QboFault(
                        "2010",
                        "Invalid minorversion",
                        detail=f"minorversion={minor!r}; {MIN_MINOR_VERSION} or later required",
                        element="minorversion",
                    )
                )
            try:
                result = await handler(request)
            except QboFault as fault:
                return _fault(fault)
            return result if isinstance(result, Response) else _json(result)

        return guarded

    # the admin API --------------------------------------------------------------------

    def counters(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "throttled": self.throttled,
            "replays": self.replays,
            "unauthorized": self.unauthorized,
            "refreshes": self.books.refreshes,
            "injected": dict(self.injected),
            "batch_sizes": list(self.batch_sizes),
            "receipts_per_doc_number": dict(self.books.receipts_per_doc_number()),
            "documents": sum(len(d) for d in self.books.documents.values()),
        }


def _endpoint(path: str) -> str:
    named = {
        TOKEN_PATH: "token",
        REVOKE_PATH: "revoke",
        DISCOVERY_PATH: "discovery",
        AUTHORIZE_PATH: "authorize",
    }
    if path in named:
        return named[path]
    parts = path.strip("/").split("/")
    return parts[3].lower() if len(parts) > 3 and parts[:2] == ["v3", "company"] else "other"


def _basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


async def _drop(send: Send) -> None:
    """Start an answer, then stop: the server closes the connection mid-response, which
    the client sees as a dropped connection (outcome unknown)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
