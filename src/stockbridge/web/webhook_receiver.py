"""The webhook receiver, ``POST /webhooks/{kind}/{store}``, as a plain ASGI layer in front
of the FastAPI application. It knows no partner: the connector registered for ``kind``
brings a ``WebhookAdapter`` (connectors/base.py) that verifies and parses deliveries.

Deliveries are the one hot path of the service: a busy store sends thousands a minute
and expects quick answers. This layer answers them without FastAPI's routing, dependency
injection and exception middleware: it reads the body under a size limit (413), has the
adapter verify it against the store's secret (missing or wrong: 401, nothing stored),
parses it (422, and the refused delivery is kept for the dashboard), refuses an event
older than ``webhook_max_age_seconds`` or more than 5 minutes ahead (422, kept too: a
replay) and answers 200 only
once the event is committed to the inbox (a re-delivery of a stored event: 200,
"duplicate delivery ignored"). Every other request (an unknown kind included) goes on to
the application.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BadWebhook, Delivery, WebhookAdapter
from stockbridge.jobs.queue import JobQueue
from stockbridge.metrics import WEBHOOKS
from stockbridge.web import webhook_secrets as service
from stockbridge.web.errors import Unauthorized
from stockbridge.web.inbox_writer import InboxWriter

__all__ = ["PREFIX", "WebhookReceiver"]

log = logging.getLogger(__name__)

PREFIX = "/webhooks/"
MAX_STORE_NAME = 100
OUTCOMES = ("stored", "duplicate", "rejected", "stale", "unauthorized")
#: The answer to a verified delivery whose event time is out of the window. BigCommerce
#: retries every answer outside 2xx alike (no 4xx is final), so the code is for people and
#: logs; the replay stays out of the window on every retry and the partner gives up after
#: its retry period (about 48 hours). See docs/security-cases-webhooks.md.
STALE_STATUS = 422

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client went away before its body was read."""


class _Kind:
    """What the receiver keeps per adapter: the header names to pick (as ASGI sends
    them) and its metric counters."""

    __slots__ = ("adapter", "counted", "headers")

    def __init__(self, adapter: WebhookAdapter) -> None:
        self.adapter = adapter
        self.headers = {name.lower().encode("latin-1"): name.lower() for name in adapter.headers}
        self.counted: dict[str, Counter] = {o: WEBHOOKS.labels(adapter.kind, o) for o in OUTCOMES}


class WebhookReceiver:
    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        hub: Hub,
        queue: JobQueue,
        writer: InboxWriter,
        max_body: int,
    ) -> None:
        self.app = app
        self.hub = hub
        self.queue = queue
        self.writer = writer
        self.max_body = max_body
        self.secrets = service.WebhookSecrets(hub)
        self.max_age = float(hub.settings.webhook_max_age_seconds)
        self.adapters: Mapping[str, WebhookAdapter] = hub.registry.webhooks
        self._kinds: dict[str, _Kind] = {}

    def _kind(self, name: str) -> _Kind | None:
        kind = self._kinds.get(name)
        if kind is None or kind.adapter is not self.adapters.get(name):
            adapter = self.adapters.get(name)
            if adapter is None:
                return None
            kind = self._kinds[name] = _Kind(adapter)
        return kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        name, slash, store = path[len(PREFIX) :].partition("/")
        kind = self._kind(name) if slash and "/" not in store else None
        if kind is None:
            await self.app(scope, receive, send)
        elif scope["method"] != "POST":
            await _answer(send, 405, {"error": "method not allowed"}, (b"allow", b"POST"))
        elif not store or len(store) > MAX_STORE_NAME:
            problem = f"store name must be 1-{MAX_STORE_NAME} characters"
            await _answer(send, 422, {"error": f"store: {problem}"})
        else:
            await self._deliver(kind, store, scope, receive, send)

    async def _deliver(
        self, kind: _Kind, store: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        adapter, wanted = kind.adapter, kind.headers
        headers: dict[str, str] = {}
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name in wanted:
                headers[wanted[name]] = value.decode("latin-1")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _answer(send, 413, {"error": f"request body over {self.max_body} bytes"})
            return
        try:
            delivery = Delivery(await self._body(receive), headers)
        except _TooLarge:
            await _answer(send, 413, {"error": f"request body over {self.max_body} bytes"})
            return
        except _Gone:
            return
        try:
            store_id = self.secrets.check_cached(adapter, store, delivery)
            if store_id is None:
                # A cache miss reads the database in the thread pool: a wait for a lock
                # never stalls the event loop (and every other delivery with it).
                store_id = await run_in_threadpool(self.secrets.check, adapter, store, delivery)
        except Unauthorized as exc:
            kind.counted["unauthorized"].inc()
            await _answer(send, 401, {"error": str(exc)}, (b"www-authenticate", b"Bearer"))
            return
        try:
            event = service.to_pending_event(
                store_id,
                adapter,
                delivery,
                now=self.secrets.events.clock(),
                max_age=self.max_age,
            )
        except BadWebhook as exc:
            stale = isinstance(exc, service.StaleDelivery)
            kind.counted["stale" if stale else "rejected"].inc()
            await run_in_threadpool(
                service.reject_webhook,
                self.hub,
                store_id,
                f"stale delivery: {exc}" if stale else str(exc),
                delivery.body,
                kind=adapter.kind,
            )
            if stale:
                await _answer(send, STALE_STATUS, {"error": f"stale delivery: {exc}"})
            else:
                await _answer(send, 422, {"error": f"not a webhook we understand: {exc}"})
            return
        try:
            stored = await self.writer.store(event)  # committed
        except SQLAlchemyError as exc:  # the writer logged why; the partner retries later
            log.warning("delivery for store %s not stored: %s", store, type(exc).__name__)
            await _answer(send, 503, {"error": "could not store the delivery; try again"})
            return
        if stored:
            kind.counted["stored"].inc()
            self.queue.submit_inbox()
            await _text(send, b"accepted")
        else:
            kind.counted["duplicate"].inc()
            await _text(send, b"duplicate delivery ignored")

    async def _body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _text(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _answer(
    send: Send, status: int, content: dict[str, Any], *extra: tuple[bytes, bytes]
) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
