"""The BigCommerce sandbox as an ASGI app: the partner API behind auth, per-store rate
limits and fault injection, plus webhook delivery from a background thread."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
from starlette.applications import Starlette

from stockbridge.connectors.bigcommerce.sandbox.admin import admin_routes
from stockbridge.connectors.bigcommerce.sandbox.apps import SApp, app_routes
from stockbridge.connectors.bigcommerce.sandbox.catalog import catalog_routes
from stockbridge.connectors.bigcommerce.sandbox.orders import order_routes
from stockbridge.connectors.bigcommerce.sandbox.state import SHook, SStore
from stockbridge.connectors.bigcommerce.sandbox.wire import error

__all__ = ["BigCommerceSandbox", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RETRY_GAPS = (60, 180, 600, 1800, 3600, 7200)  # seconds; scaled by ``time_scale``
BASE = "/stores/{hash}"


class BigCommerceSandbox:
    """The simulator's state and its ASGI app (``.app``). ``time_scale`` shrinks webhook
    retry gaps (1.0: the documented minutes and hours)."""

    def __init__(self, *, time_scale: float = 1.0) -> None:
        self.stores: dict[str, SStore] = {}
        self.ids = itertools.count(101)
        self.time_scale = time_scale
        self.lock = threading.Lock()
        self.deliveries: Counter[str] = Counter()
        self._outbox: deque[tuple[float, SStore, SHook, bytes, int]] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._sender = threading.Thread(target=self._deliver_loop, name="bc-webhooks", daemon=True)
        self._sender.start()
        #: The single-click apps registered with the sandbox, and install codes issued.
        self.apps: dict[str, SApp] = {}
        self.codes: dict[str, Any] = {}
        routes = [
            *catalog_routes(self, BASE),
            *order_routes(self, BASE),
            *admin_routes(self),
            *app_routes(self),
        ]
        self.app = _FaultsAndLimits(self, Starlette(routes=routes))

    def close(self) -> None:
        self._stop = True
        self._wake.set()

    # webhooks ---------------------------------------------------------------

    def emit(self, store: SStore, scope: str, resource: dict[str, Any]) -> None:
        for hook in list(store.hooks.values()):
            if hook.is_active and hook.scope == scope:
                body = json.dumps(
                    {
                        "scope": scope,
                        "store_id": "1001",
                        "data": resource,
                        "hash": uuid.uuid4().hex,
                        "created_at": int(time.time()),
                        "producer": f"stores/{store.hash}",
                    }
                ).encode()
                with self.lock:
                    self._outbox.append((time.monotonic(), store, hook, body, 0))
                self._wake.set()

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self._stop:
                self._wake.wait(0.05)
                self._wake.clear()
                moment = time.monotonic()
                with self.lock:
                    due = [d for d in self._outbox if d[0] <= moment]
                    for d in due:
                        self._outbox.remove(d)
                for _, store, hook, body, attempt in due:
                    if hook.is_active:
                        self._deliver(client, store, hook, body, attempt)

    def _deliver(
        self, client: httpx.Client, store: SStore, hook: SHook, body: bytes, attempt: int
    ) -> None:
        ok = False
        try:
            headers = {"Content-Type": "application/json", **hook.headers}
            ok = client.post(hook.destination, content=body, headers=headers).is_success
        except httpx.HTTPError:
            ok = False
        self.deliveries["ok" if ok else "failed"] += 1
        if ok:
            hook.failures = 0
            return
        hook.failures += 1
        if attempt + 1 >= len(RETRY_GAPS):
            hook.is_active = False  # BigCommerce deactivates a failing hook
            self.deliveries["deactivated"] += 1
            return
        gap = RETRY_GAPS[attempt] * self.time_scale
        with self.lock:
            self._outbox.append((time.monotonic() + gap, store, hook, body, attempt + 1))


class _FaultsAndLimits:
    """ASGI middleware in front of the partner API: auth, rate limits, faults, counters."""

    def __init__(self, sandbox: BigCommerceSandbox, app: Starlette) -> None:
        self.sandbox = sandbox
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/stores/"):
            await self.inner(scope, receive, send)
            return
        store = self.sandbox.stores.get(path.split("/")[2])
        if store is None:
            await error(404, "Store not found")(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if not store.accepts(headers.get("x-auth-token", "")):
            await error(401, "Unauthorized: missing or wrong X-Auth-Token")(scope, receive, send)
            return
        endpoint = f"{scope['method']} /" + "/".join(
            "{id}" if part.isdigit() else part for part in path.split("/")[3:]
        )
        store.counters[endpoint] += 1
        store.counters["requests"] += 1
        moment = time.monotonic()
        store.first_call = store.first_call or moment
        store.last_call = moment
        if moment - store.window_start >= store.window_ms / 1000:
            store.window_start, store.window_used = moment, 0
        reset_ms = max(0, int((store.window_start + store.window_ms / 1000 - moment) * 1000))
        limit_headers = [
            (b"x-rate-limit-time-window-ms", str(store.window_ms).encode()),
            (b"x-rate-limit-time-reset-ms", str(reset_ms).encode()),
            (b"x-rate-limit-requests-quota", str(store.quota).encode()),
        ]
        if store.window_used >= store.quota:
            store.counters["429"] += 1
            response = error(429, "Too many requests")
            response.headers["X-Retry-After"] = str(max(1, reset_ms // 1000))
            for name, value in limit_headers:
                response.headers[name.decode()] = value.decode()
            response.headers["X-Rate-Limit-Requests-Left"] = "0"
            await response(scope, receive, send)
            return
        store.window_used += 1
        limit_headers.append(
            (b"x-rate-limit-requests-left", str(store.quota - store.window_used).encode())
        )
        await self._serve(store, limit_headers, scope, receive, send)

    async def _serve(
        self,
        store: SStore,
        limit_headers: list[tuple[bytes, bytes]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        fault = store.faults.draw()
        if fault:
            store.counters[f"fault:{fault}"] += 1
        if fault == "latency" or store.faults.latency_ms:
            await asyncio.sleep(max(store.faults.latency_ms, 50) / 1000)
        if fault == "5xx":
            await error(503, "Service Unavailable")(scope, receive, send)
            return
        if fault == "drop":
            await _drop(send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *limit_headers]
                if fault == "drop_after":
                    await _drop(send)
                    raise ConnectionAbortedError("sandbox: applied, then dropped the connection")
            await send(message)

        await self.inner(scope, receive, send_with_limits)


async def _drop(send: Send) -> None:
    """Start an answer that promises a body, then break off: the client sees the
    connection close mid-response (uvicorn closes it when the app raises)."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]}
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise ConnectionAbortedError("sandbox: connection dropped")


def create_app(*, time_scale: float = 1.0) -> BigCommerceSandbox:
    return BigCommerceSandbox(time_scale=time_scale)
