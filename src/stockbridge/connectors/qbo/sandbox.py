"""A QuickBooks Online simulator (ASGI, Starlette) for tests, the demo and benchmarks.

Serves the subset the connector uses, with Intuit's documented shapes and limits:

* ``POST /oauth2/v1/tokens/bearer`` — refresh_token grant, client id/secret as HTTP Basic;
  short-lived access tokens (``access_lifetime``), a new refresh token on every refresh,
  ``400 {"error": "invalid_grant"}`` for a rotated-away or revoked one;
* under ``/v3/company/{realm}/``: ``companyinfo/{realm}``, ``query``, ``cdc``,
  ``salesreceipt``, ``invoice``, ``customer`` and ``batch`` (at most ``max_batch`` = 30
  items). Every call needs ``minorversion`` (>= 75), ``Accept: application/json`` (else
  XML, as QuickBooks does) and a live bearer token (else 401 AuthenticationFault).
  ``requestid`` (at most 50 characters; 36 on ``batch``) makes a repeated create answer
  the first response without booking anything;
* rate limits per realm: 10 a second, 500 a minute, 10 in flight, 40 batches a minute;
  over them, 429 (``Retry-After`` only when configured — Intuit sends none);
* fault injection per endpoint: ``error`` (503, nothing applied), ``latency``, ``drop``
  (connection closed, nothing applied), ``applied_drop`` (applied, then the connection
  closed before the answer), ``bad_json`` and ``empty_object`` (malformed 200s),
  ``expire_tokens`` (every access token expires just before this call);
* ``/admin/...`` (no auth; loopback only; see ``sandbox_admin``): seed items and customers,
  change items, set the fault plan and the configuration, move the clock, issue / revoke /
  expire tokens, and read counters (calls per endpoint, 429s, receipts per DocNumber).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockbridge.connectors.qbo.mapping import dumps
from stockbridge.connectors.qbo.sandbox_admin import (
    FaultRule,
    Limits,
    admin_routes,
)
from stockbridge.connectors.qbo.sandbox_admin import fault_response as _fault
from stockbridge.connectors.qbo.sandbox_admin import json_response as _json
from stockbridge.connectors.qbo.sandbox_books import Books, QboFault, stamp

__all__ = ["FaultRule", "QboSandbox"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
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
        self._answers: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.app = Starlette(routes=self._routes())

    # ASGI: limits and faults around the routes ----------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/admin/"):
            await self.app(scope, receive, send)
            return
        endpoint = _endpoint(scope["path"])
        self.calls[endpoint] += 1
        if endpoint != "token" and not self.limits.admit(endpoint):
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
        if self.fault_rate and endpoint != "token" and self.rng.random() < self.fault_rate:
            return FaultRule(endpoint, self.rng.choice(("error", "drop", "applied_drop")))
        return None

    # the API ------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        company = "/v3/company/{realm}"
        return [
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route(f"{company}/companyinfo/{{id}}", self.api(self.company_info), methods=["GET"]),
            Route(f"{company}/query", self.api(self.query), methods=["GET"]),
            Route(f"{company}/cdc", self.api(self.cdc), methods=["GET"]),
            Route(f"{company}/batch", self.api(self.batch), methods=["POST"]),
            Route(f"{company}/{{entity}}", self.api(self.create), methods=["POST"]),
            *admin_routes(self),
        ]

    async def token(self, request: Request) -> Response:
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        if not self.books.client_ok(client_id, client_secret):
            return _json({"error": "invalid_client"}, 401)
        form = parse_qs((await request.body()).decode(errors="replace"))
        if form.get("grant_type") != ["refresh_token"]:
            return _json({"error": "unsupported_grant_type"}, 400)
        answer = self.books.refresh((form.get("refresh_token") or [""])[0])
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

    async def company_info(self, request: Request) -> Any:
        return {
            "CompanyInfo": {"Id": "1", "CompanyName": self.books.company_name},
            "time": stamp(self.books.now()),
        }

    async def query(self, request: Request) -> Any:
        return self.books.query(request.query_params.get("query", ""))

    async def cdc(self, request: Request) -> Any:
        params = request.query_params
        if not params.get("entities") or not params.get("changedSince"):
            raise QboFault("2020", "Required param missing", detail="entities, changedSince")
        return self.books.cdc(params["entities"], params["changedSince"])

    async def create(self, request: Request) -> Any:
        entity = {"salesreceipt": "SalesReceipt", "invoice": "Invoice", "customer": "Customer"}.get(
            request.path_params["entity"].lower()
        )
        if entity is None:
            raise QboFault("610", "Object Not Found", detail="unsupported entity", status=404)
        return await self._once(request, 50, lambda body: self._book(entity, body))

    def _book(self, entity: str, body: Any) -> tuple[int, Any]:
        try:
            if entity == "Customer":
                name = body.get("DisplayName") if isinstance(body, dict) else None
                if not isinstance(name, str) or not name:
                    raise QboFault("2020", "Required param missing", element="DisplayName")
                document = self.books.add_customer(name)
            else:
                document = self.books.create(entity, body)
        except QboFault as fault:
            return fault.status, fault.body()
        return 200, {entity: document, "time": stamp(self.books.now())}

    async def batch(self, request: Request) -> Any:
        return await self._once(request, 36, self._run_batch)

    def _run_batch(self, body: Any) -> tuple[int, Any]:
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            fault = QboFault("2020", "Required param missing", element="BatchItemRequest")
            return 400, fault.body()
        if len(items) > self.books.max_batch:
            fault = QboFault(
                "6000",
                "A business validation error has occurred while processing your request",
                detail=f"Batch size {len(items)} exceeds the maximum of {self.books.max_batch}",
                element="BatchItemRequest",
            )
            return 400, fault.body()
        self.batch_sizes.append(len(items))
        answers = []
        for entry in items:
            bid = str(entry.get("bId", "")) if isinstance(entry, dict) else ""
            entity = next((e for e in ("SalesReceipt", "Invoice") if e in (entry or {})), None)
            if not bid or len(bid) > 10 or entity is None or entry.get("operation") != "create":
                fault = QboFault(
                    "2010",
                    "Request has invalid or unsupported property",
                    detail="bId (1-10 characters), operation create and an entity",
                )
                answers.append({"bId": bid, **fault.body()})
                continue
            status, result = self._book(entity, entry[entity])
            answers.append(
                {
                    "bId": bid,
                    **({"Fault": result["Fault"]} if status != 200 else {entity: result[entity]}),
                }
            )
        return 200, {"BatchItemResponse": answers, "time": stamp(self.books.now())}

    async def _once(
        self, request: Request, max_id: int, apply: Callable[[Any], tuple[int, Any]]
    ) -> Response:
        """Apply a create at most once per requestid: a repeat gets the first answer."""
        request_id = request.query_params.get("requestid")
        if request_id is not None and not 0 < len(request_id) <= max_id:
            raise QboFault(
                "2010", "Invalid requestid", detail=f"1 to {max_id} characters", element="requestid"
            )
        key = (request.url.path.rsplit("/", 1)[-1].lower(), request_id or "")
        if request_id and key in self._answers:
            self.replays += 1
            status, content = self._answers[key]
            return Response(content, status, media_type="application/json")
        try:
            body = json.loads(await request.body(), parse_float=Decimal)
        except ValueError:
            raise QboFault(
                "2010", "Request has invalid or unsupported property", detail="the body is not JSON"
            ) from None
        status, answer = apply(body)
        content = dumps(answer)
        if request_id:
            self._answers[key] = (status, content)
        return Response(content, status, media_type="application/json")

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
    if path == TOKEN_PATH:
        return "token"
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
