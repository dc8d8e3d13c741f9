"""The FastAPI application: REST API under /api/v1, webhook receivers, metrics, and the
merchant dashboard (``web/dashboard``) at /.

Routes parse input, call a use case (``web.service``, ``services``: typed results that
``jsonable`` turns into the JSON answered) and map its errors to statuses:
401 no or unknown token, 403 a store token on an operator route, 404 unknown
store/run/SKU (also for another store's resources), 409 conflicts, 413 oversized bodies
(with or without a Content-Length), 422 invalid input (an id beyond 64 bits included).
Nothing is half-applied. Every response carries ``nosniff`` and a Content-Security-Policy
(``default-src 'self'``, no inline script), and Strict-Transport-Security over https.
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockbridge import __version__
from stockbridge.bootstrap import Hub
from stockbridge.db.inbox import InboxAppender
from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.jobs.queue import JobQueue
from stockbridge.jsonable import json_list, json_object
from stockbridge.metrics import REGISTRY
from stockbridge.metrics.database import register_database_gauges
from stockbridge.services.drift import drift_json, drift_report, request_repair
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.inventory import product_detail
from stockbridge.services.preview import plan_json_chunks, preview
from stockbridge.services.rejected import rejected_inputs
from stockbridge.services.runs import run_detail, run_history
from stockbridge.services.stores import describe_store, resolve_store, update_books
from stockbridge.services.stores import list_stores as every_store  # a route has its name
from stockbridge.web import service
from stockbridge.web.books_api import books_routes
from stockbridge.web.dashboard import mount_dashboard
from stockbridge.web.dashboard.guard import FRAME_ANCESTORS, RunId
from stockbridge.web.errors import Forbidden
from stockbridge.web.inbox_writer import InboxWriter
from stockbridge.web.options_api import option_routes
from stockbridge.web.products_api import product_routes
from stockbridge.web.service import Caller, Conflict, Invalid, NotFound, PushItem, Unauthorized
from stockbridge.web.setup_api import setup_routes
from stockbridge.web.webhook_receiver import WebhookReceiver

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 1_000_000
#: Paths that read their body as a stream under their own limit (the Web Connector's).
OWN_BODY_LIMITS = ("/qbwc",)
StepName = Literal["all", "orders-in", "orders-out", "inventory-in", "inventory-out"]
StoreName = Annotated[str, Path(min_length=1, max_length=100)]


class InventoryItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: str = Field(min_length=1, max_length=255)
    quantity: int = Field(ge=0, le=1_000_000_000)
    location: str = Field(default="default", min_length=1, max_length=100)


class InventoryPushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[InventoryItemIn] = Field(min_length=1, max_length=10_000)


class BooksIn(BaseModel):
    """The store's books settings; an absent field stays as it is."""

    model_config = ConfigDict(extra="forbid", strict=True)
    customer_mode: Literal["single", "per_buyer"] | None = None
    cancel_as: Literal["void", "refund_receipt"] | None = None
    deposit_account: str | None = Field(default=None, max_length=64)
    payment_methods: dict[str, str] | None = Field(default=None, max_length=50)
    #: A web order status id, or 0 to turn the write-back off.
    status_after_post: int | None = Field(default=None, ge=0, le=14)


class SyncRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: StepName = "all"
    #: Answer the plan of Sync All (200) instead of queueing a run; nothing is written.
    dry_run: StrictBool = False


class Accepted(BaseModel):
    run_id: int
    merged: bool = False


class PushAccepted(BaseModel):
    applied: int
    run_id: int


class _BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413 before the app reads any of it. A body
    with a Content-Length is judged by it (the server never delivers more); one without
    (chunked) is read here first, up to the limit, and handed on whole: inside the app a
    failing read would become FastAPI's 400 "error parsing the body". Paths in ``own``
    read their body as a stream under a limit of their own (the Web Connector's SOAP
    endpoint: 32 MB, answered with a SOAP fault) and are passed through untouched."""

    def __init__(self, app: ASGIApp, limit: int, own: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.own = own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.own:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def buffered() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, buffered, send)


#: Served with every response (the webhook receiver's and static files' included).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: FastAPI's /docs and /redoc load their scripts from a CDN with an inline starter
#: script; they show no user data and get only the framing rule.
_DOCS_POLICY = "frame-ancestors 'none'"
_DOCS = ("/docs", "/redoc")
HSTS = "max-age=31536000"


class _SecurityHeaders:
    """Adds ``X-Content-Type-Options: nosniff`` and the Content-Security-Policy to every
    response, and Strict-Transport-Security when the request came over https (as the
    server saw it, or as a listed proxy said) or ``always_hsts`` (Settings.hsts)."""

    def __init__(self, app: ASGIApp, always_hsts: bool) -> None:
        self.app = app
        self.always_hsts = always_hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = _DOCS_POLICY if path.startswith(_DOCS) else CONTENT_SECURITY_POLICY
        added = [
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", policy.encode()),
        ]
        if self.always_hsts or scope.get("scheme") == "https":
            added.append((b"strict-transport-security", HSTS.encode()))
        replaced = {name for name, _ in added}
        state = scope.setdefault("state", {})  # shared with the request, even if copied

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A partner app's session in the partner's control panel (guard.viewer,
                # guard.allow_framing): those origins may frame this answer, no others.
                framers = state.get(FRAME_ANCESTORS)
                if framers and policy == CONTENT_SECURITY_POLICY:
                    framed = policy.replace("frame-ancestors 'none'", f"frame-ancestors {framers}")
                    added[1] = (b"content-security-policy", framed.encode())
                headers = [(k, v) for k, v in message.get("headers", []) if k not in replaced]
                message = {**message, "headers": [*headers, *added]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request body over {limit} bytes"}, status_code=413)


def _metrics_allowed(expected: str, authorization: str | None) -> bool:
    given = (
        (authorization or "")[7:].strip() if (authorization or "")[:7].lower() == "bearer " else ""
    )
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return service.authenticate(request.app.state.hub, authorization)


CallerDep = Annotated[Caller, Depends(_caller)]


def create_app(hub: Hub, queue: JobQueue) -> FastAPI:
    app = FastAPI(
        title="Stockbridge",
        version=__version__,
        description="Keeps an online store and its back office in step.",
    )
    app.state.hub = hub
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES, own=OWN_BODY_LIMITS)
    # Per app: they read this hub's database. Store names only for the metrics token.
    metrics_token = hub.settings.metrics_token
    gauges = CollectorRegistry()
    register_database_gauges(gauges, hub.uow, per_store=metrics_token is not None)

    @app.exception_handler(Unauthorized)
    async def _401(_r: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(Forbidden)
    async def _403(_r: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=403)

    @app.exception_handler(NotFound)
    async def _404(_r: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _409(_r: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=409)

    @app.exception_handler(Invalid)
    async def _422(_r: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse({"error": str(exc), "details": exc.details}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()[:50]
        ]
        first = details[0] if details else {"where": "body", "problem": "invalid"}
        return JSONResponse(
            {"error": f"{first['where']}: {first['problem']}", "details": details}, status_code=422
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        """Prometheus metrics. With ``STOCKBRIDGE_METRICS_TOKEN`` set, only for that
        bearer token (and with per-store gauges); without it, open and naming no store."""
        if metrics_token is not None and not _metrics_allowed(
            metrics_token.get_secret_value(), authorization
        ):
            raise Unauthorized("/metrics needs the metrics token: Authorization: Bearer <token>")
        body = generate_latest(REGISTRY) + generate_latest(gauges)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/stores")
    def list_stores(who: CallerDep) -> list[dict[str, Any]]:
        return json_list(s for s in every_store(hub) if who.may_see(resolve_store(hub, s.name)))

    @app.get("/api/v1/stores/{store}")
    def get_store(store: StoreName, who: CallerDep) -> dict[str, Any]:
        _visible(hub, who, store)
        return json_object(describe_store(hub, store))

    @app.patch("/api/v1/stores/{store}/books")
    def set_books(store: StoreName, body: BooksIn, who: CallerDep) -> dict[str, Any]:
        """Change what the store's orders bring to the books; answers the store's settings."""
        _visible(hub, who, store)
        try:
            updated = update_books(
                hub,
                store,
                customer_mode=body.customer_mode,
                cancel_as=body.cancel_as,
                deposit_account=body.deposit_account,
                payment_methods=body.payment_methods,
                status_after_post=body.status_after_post or None,
                status_after_post_off=body.status_after_post == 0,
            )
        except InvalidSetting as exc:
            raise Invalid(str(exc)) from None
        return json_object(updated)

    @app.post(
        "/api/v1/stores/{store}/sync",
        status_code=202,
        response_model=Accepted,
        responses={200: {"description": "the plan of Sync All, when dry_run is true"}},
    )
    def trigger_sync(
        store: StoreName, who: CallerDep, body: Annotated[SyncRequestIn | None, Body()] = None
    ) -> Any:
        request = body or SyncRequestIn()
        chosen = request.steps
        if request.dry_run:
            if chosen != "all":
                raise Invalid('dry_run previews Sync All: leave "steps" out or set it to "all"')
            _visible(hub, who, store)
            plan = preview(hub, store)
            return StreamingResponse(
                _closing(plan_json_chunks(plan), plan.close), media_type="application/json"
            )
        steps = SYNC_ALL if chosen == "all" else (Step(chosen),)
        run_id, merged = service.request_sync(hub, who, store, steps)
        queue.submit_run(run_id)
        return Accepted(run_id=run_id, merged=merged)

    @app.get("/api/v1/stores/{store}/drift")
    def drift(store: StoreName, who: CallerDep) -> dict[str, Any]:
        """The store's drift now (reads the web store's catalog)."""
        _visible(hub, who, store)
        return drift_json(drift_report(hub, store))

    @app.post("/api/v1/stores/{store}/drift/repair", status_code=202, response_model=Accepted)
    def repair_drift(store: StoreName, who: CallerDep) -> Accepted:
        """Queue a repair run: exactly the drifted SKUs pushed (after a run that holds
        the store)."""
        _visible(hub, who, store)
        requested = request_repair(hub, store)
        queue.submit_run(requested.run_id)
        return Accepted(run_id=requested.run_id, merged=requested.merged)

    @app.get("/api/v1/stores/{store}/runs")
    def runs(
        store: StoreName,
        who: CallerDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
        before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    ) -> list[dict[str, Any]]:
        """The newest runs first; ``before``: only runs older than that one (the next
        page: the last id of this one)."""
        _visible(hub, who, store)
        return json_list(run_history(hub, store, limit, before=before))

    @app.get("/api/v1/stores/{store}/runs/{run_id}")
    def run(store: StoreName, run_id: RunId, who: CallerDep) -> dict[str, Any]:
        store_id = _visible(hub, who, store)
        detail = run_detail(hub, run_id)
        if detail is None or detail.store_id != store_id:
            raise NotFound(f"no run {run_id} for store {store!r}")
        return json_object(detail)

    @app.get("/api/v1/stores/{store}/products/{sku}")
    def product(
        store: StoreName, sku: Annotated[str, Path(min_length=1, max_length=255)], who: CallerDep
    ) -> dict[str, Any]:
        store_id = _visible(hub, who, store)
        found = product_detail(hub, store_id, sku)
        if found is None:
            raise NotFound(f"no SKU {sku!r} in store {store!r}")
        return json_object(found)

    @app.get("/api/v1/stores/{store}/rejected")
    def rejected(store: StoreName, who: CallerDep) -> list[dict[str, Any]]:
        store_id = _visible(hub, who, store)
        return json_list(rejected_inputs(hub, store_id))

    @app.post("/api/v1/stores/{store}/inventory", status_code=202, response_model=PushAccepted)
    def push(
        store: StoreName,
        body: InventoryPushIn,
        who: CallerDep,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        items = [PushItem(i.sku, i.quantity, i.location) for i in body.items]
        status, answer, run_id = service.push_inventory(hub, who, store, items, idempotency_key)
        if run_id is not None:
            queue.submit_run(run_id)
        return JSONResponse(answer, status_code=status)

    app.include_router(product_routes(hub, queue))
    app.include_router(books_routes(hub))
    app.include_router(setup_routes(hub))
    app.include_router(option_routes(hub, queue))
    # Partners' own routes (OAuth callbacks, app install), named by the registry: the web
    # layer imports no partner package itself.
    for module in hub.registry.web_routes.values():
        app.include_router(importlib.import_module(module).routes(hub, queue))

    # The webhook receiver answers its own path ahead of everything else (the hot path;
    # see web/webhook_receiver.py); it is added last, so it is the outermost layer.
    inbox_writer = InboxWriter(InboxAppender(hub.engine))
    app.state.inbox_writer = inbox_writer
    mount_dashboard(app, hub, queue)
    app.add_middleware(
        WebhookReceiver, hub=hub, queue=queue, writer=inbox_writer, max_body=MAX_BODY_BYTES
    )
    app.add_middleware(_SecurityHeaders, always_hsts=hub.settings.hsts)  # outermost
    return app


def _closing(chunks: Iterator[str], close: Callable[[], None]) -> Iterator[str]:
    try:
        yield from chunks
    finally:
        close()


def _visible(hub: Hub, who: Caller, store: str) -> int:
    with hub.uow() as uow:
        return service.store_for(uow, who, store).id
