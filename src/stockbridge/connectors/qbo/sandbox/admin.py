"""The QuickBooks sandbox's admin API (``/admin/...``, no auth, loopback only), and the
traffic controls it sets: the fault plan, the rate limits and request-id replay.

    POST  /admin/items            [{"sku", "name", "qty", "price", "type", "active"}, ...]
    GET   /admin/items            every item as QuickBooks has it
    PATCH /admin/items/{sku}      {"qty", "price", "active", "name"} (bumps LastUpdatedTime)
    POST  /admin/customers        {"name"}
    POST  /admin/names            {"kind": "vendor" | "employee", "name"}
    GET   /admin/ledger           sales revenue, shipping income, sales tax, money in;
                                  customers; documents by entity
    POST  /admin/faults           {"plan": [{"path", "kind", "times", "seconds", "skip"}],
                                   "rate": 0.1, "seed": 1}
    POST  /admin/config           {"rate_limits", "retry_after", "per_second", "per_minute",
                                   "batches_per_minute", "max_in_flight", "access_lifetime",
                                   "code_lifetime", "redirect_uris" (the app's registered
                                   redirect URIs; empty: any),
                                   "max_batch", "duplicate_doc_warning",
                                   "max_batch", "duplicate_doc_warning", "tax_mode"
                                   (ast | us_codes | global),
                                   "request_id_replay" (false: a repeated requestid books
                                   again), "request_id_ttl" (seconds a requestid is
                                   remembered, on the sandbox clock; null: forever)}
    POST  /admin/clock            {"advance": seconds}
    POST  /admin/tokens/{issue|revoke|expire}
    GET   /admin/counters         calls per endpoint, 429s, replays, refreshes, faults
                                  injected, batch sizes, receipts per DocNumber
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockbridge.connectors.qbo.sandbox.wire import QboFault, fault_response, json_response, stamp

if TYPE_CHECKING:
    from stockbridge.connectors.qbo.sandbox.app import QboSandbox

__all__ = ["FAULT_KINDS", "FaultRule", "Limits", "Replay", "admin_routes"]

FAULT_KINDS = (
    "error",
    "latency",
    "drop",
    "applied_drop",
    "bad_json",
    "empty_object",
    "expire_tokens",
)


@dataclass
class FaultRule:
    """``times`` faults of ``kind`` on calls to ``path`` (an endpoint name or ``*``), after
    letting ``skip`` such calls through."""

    path: str
    kind: str
    times: int = 1
    seconds: float = 0.0
    skip: int = 0


@dataclass
class Limits:
    enabled: bool = True
    per_second: int = 10
    per_minute: int = 500
    batches_per_minute: int = 40
    max_in_flight: int = 10
    retry_after: float | None = None
    _second: deque[float] = field(default_factory=deque)
    _minute: deque[float] = field(default_factory=deque)
    _batch: deque[float] = field(default_factory=deque)
    in_flight: int = 0

    def admit(self, endpoint: str) -> bool:
        if not self.enabled:
            return True
        now = time.monotonic()
        for window, span in ((self._second, 1.0), (self._minute, 60.0), (self._batch, 60.0)):
            while window and window[0] <= now - span:
                window.popleft()
        over = (
            len(self._second) >= self.per_second
            or len(self._minute) >= self.per_minute
            or (endpoint == "batch" and len(self._batch) >= self.batches_per_minute)
            or self.in_flight >= self.max_in_flight
        )
        if over:
            return False
        self._second.append(now)
        self._minute.append(now)
        if endpoint == "batch":
            self._batch.append(now)
        return True


@dataclass
class Replay:
    """What a repeated ``requestid`` gets: the first answer (Intuit's documented
    behaviour) while ``enabled`` and younger than ``ttl`` seconds (None: forever).
    Turning it off, or a short ``ttl``, leaves a re-sent create to book again, so the
    caller's own look-up is what prevents a double."""

    enabled: bool = True
    ttl: float | None = None
    _answers: dict[tuple[str, str], tuple[float, int, bytes]] = field(default_factory=dict)

    def get(self, key: tuple[str, str], now: float) -> tuple[int, bytes] | None:
        kept = self._answers.get(key) if self.enabled else None
        if kept is None or (self.ttl is not None and now - kept[0] >= self.ttl):
            return None
        return kept[1], kept[2]

    def put(self, key: tuple[str, str], now: float, status: int, content: bytes) -> None:
        if self.enabled:
            self._answers[key] = (now, status, content)


def admin_routes(sandbox: QboSandbox) -> list[Route]:
    """The admin endpoints of ``sandbox``."""
    admin = _Admin(sandbox)
    return [
        Route("/admin/items", admin.items, methods=["GET", "POST"]),
        Route("/admin/items/{sku}", admin.change_item, methods=["PATCH"]),
        Route("/admin/customers", admin.customers, methods=["POST"]),
        Route("/admin/names", admin.names, methods=["POST"]),
        Route("/admin/ledger", admin.ledger, methods=["GET"]),
        Route("/admin/faults", admin.faults, methods=["POST"]),
        Route("/admin/config", admin.config, methods=["POST"]),
        Route("/admin/clock", admin.clock, methods=["POST"]),
        Route("/admin/tokens/{action}", admin.tokens, methods=["POST"]),
        Route("/admin/counters", admin.counters, methods=["GET"]),
    ]


class _Admin:
    def __init__(self, sandbox: QboSandbox) -> None:
        self.sandbox = sandbox

    async def items(self, request: Request) -> Response:
        if request.method == "POST":
            specs = await request.json()
            created = [self.sandbox.books.add_item(spec) for spec in specs]
            return json_response([{"Id": i["Id"], "Sku": i.get("Sku")} for i in created])
        return json_response(list(self.sandbox.books.items.values()))

    async def change_item(self, request: Request) -> Response:
        try:
            item = self.sandbox.books.change_item(request.path_params["sku"], await request.json())
        except QboFault as fault:
            return fault_response(fault)
        return json_response(item)

    async def customers(self, request: Request) -> Response:
        spec = await request.json()
        return json_response(self.sandbox.books.add_customer(str(spec["name"])))

    async def names(self, request: Request) -> Response:
        spec = await request.json()
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in ("vendor", "employee") or not isinstance(spec.get("name"), str):
            return json_response({"error": "kind vendor|employee and a name"}, 400)
        try:
            return json_response({"added": self.sandbox.books.add_other_name(kind, spec["name"])})
        except QboFault as fault:
            return fault_response(fault)

    async def ledger(self, request: Request) -> Response:
        books = self.sandbox.books
        return json_response(
            {
                **books.ledger(),
                "customers": list(books.customers.values()),
                "documents": books.documents,
            }
        )

    async def faults(self, request: Request) -> Response:
        spec = await request.json()
        rules = [FaultRule(**rule) for rule in spec.get("plan", [])]
        bad = [r.kind for r in rules if r.kind not in FAULT_KINDS]
        if bad:
            return json_response({"error": f"unknown fault kinds {bad}; known: {FAULT_KINDS}"}, 400)
        self.sandbox.plan = rules
        self.sandbox.fault_rate = float(spec.get("rate", 0.0))
        if "seed" in spec:
            self.sandbox.rng = random.Random(spec["seed"])
        return json_response({"plan": len(self.sandbox.plan), "rate": self.sandbox.fault_rate})

    async def config(self, request: Request) -> Response:
        spec = await request.json()
        limits = self.sandbox.limits
        limits.enabled = bool(spec.get("rate_limits", limits.enabled))
        if "retry_after" in spec:
            limits.retry_after = spec["retry_after"]
        for name in ("per_second", "per_minute", "batches_per_minute", "max_in_flight"):
            setattr(limits, name, int(spec.get(name, getattr(limits, name))))
        if "redirect_uris" in spec:
            self.sandbox.books.redirect_uris = {str(u) for u in spec["redirect_uris"]}
        for name in ("access_lifetime", "max_batch", "code_lifetime"):
            setattr(
                self.sandbox.books, name, int(spec.get(name, getattr(self.sandbox.books, name)))
            )
        if spec.get("tax_mode") in ("ast", "us_codes", "global"):
            self.sandbox.books.tax_mode = str(spec["tax_mode"])
        if "duplicate_doc_warning" in spec:
            self.sandbox.books.duplicate_doc_warning = bool(spec["duplicate_doc_warning"])
        if "request_id_replay" in spec:
            self.sandbox.replay.enabled = bool(spec["request_id_replay"])
        if "request_id_ttl" in spec:
            ttl = spec["request_id_ttl"]
            self.sandbox.replay.ttl = None if ttl is None else float(ttl)
        return json_response({"ok": True})

    async def clock(self, request: Request) -> Response:
        spec = await request.json()
        self.sandbox.books.clock_offset += float(spec.get("advance", 0))
        return json_response({"now": stamp(self.sandbox.books.now())})

    async def tokens(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action == "issue":
            return json_response({"refresh_token": self.sandbox.books.issue_refresh_token()})
        if action == "revoke":
            self.sandbox.books.revoke_refresh_tokens()
        elif action == "expire":
            self.sandbox.books.expire_access_tokens()
        else:
            return json_response({"error": "actions: issue, revoke, expire"}, 404)
        return json_response({"ok": True})

    async def counters(self, request: Request) -> Response:
        return json_response(self.sandbox.counters())
