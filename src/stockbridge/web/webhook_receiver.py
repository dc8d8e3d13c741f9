"""The BigCommerce webhook receiver, ``POST /webhooks/bigcommerce/{store}``, as a plain
ASGI layer in front of the FastAPI application.

Deliveries are the one hot path of the service: a busy store sends thousands a minute
and expects quick answers. This layer answers them without FastAPI's routing, dependency
injection and exception middleware: it checks the secret header in constant time
(missing or wrong: 401, nothing stored), reads the body under a size limit (413), parses
just the envelope (422, and the refused delivery is kept for the dashboard) and answers
200 only once the event is committed to the inbox (a re-delivery of a stored event:
200, "duplicate delivery ignored"). Every other request goes on to the application.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from stockbridge.bootstrap import Hub
from stockbridge.connectors.bigcommerce.webhooks import SECRET_HEADER, BadWebhook
from stockbridge.jobs.queue import JobQueue
from stockbridge.metrics import WEBHOOKS
from stockbridge.web import service
from stockbridge.web.inbox_writer import InboxWriter
from stockbridge.web.service import Unauthorized

__all__ = ["PREFIX", "WebhookReceiver"]

log = logging.getLogger(__name__)

PREFIX = "/webhooks/bigcommerce/"
MAX_STORE_NAME = 100
_SECRET = SECRET_HEADER.lower().encode()

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client went away before its body was read."""


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
        self._counted = {
            outcome: WEBHOOKS.labels("bigcommerce", outcome)
            for outcome in ("stored", "duplicate", "rejected", "unauthorized")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX) or "/" in path[len(PREFIX) :]:
            await self.app(scope, receive, send)
            return
        store = path[len(PREFIX) :]
        if scope["method"] != "POST":
            await _answer(send, 405, {"error": "method not allowed"}, (b"allow", b"POST"))
        elif not store or len(store) > MAX_STORE_NAME:
            problem = f"store name must be 1-{MAX_STORE_NAME} characters"
            await _answer(send, 422, {"error": f"store: {problem}"})
        else:
            await self._deliver(store, scope, receive, send)

    async def _deliver(self, store: str, scope: Scope, receive: Receive, send: Send) -> None:
        secret: str | None = None
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == _SECRET:
                secret = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _answer(send, 413, {"error": f"request body over {self.max_body} bytes"})
            return
        store_id = self.secrets.check_cached(store, secret)
        if store_id is None:
            try:
                # A cache miss reads the database in the thread pool: a wait for a lock
                # never stalls the event loop (and every other delivery with it).
                store_id = await run_in_threadpool(self.secrets.check, store, secret)
            except Unauthorized as exc:
                self._counted["unauthorized"].inc()
                await _answer(send, 401, {"error": str(exc)}, (b"www-authenticate", b"Bearer"))
                return
        try:
            body = await self._body(receive)
        except _TooLarge:
            await _answer(send, 413, {"error": f"request body over {self.max_body} bytes"})
            return
        except _Gone:
            return
        try:
            event = service.to_pending_event(store_id, body)
        except BadWebhook as exc:
            self._counted["rejected"].inc()
            await run_in_threadpool(service.reject_webhook, self.hub, store_id, str(exc), body)
            await _answer(send, 422, {"error": f"not a webhook we understand: {exc}"})
            return
        try:
            stored = await self.writer.store(event)  # committed
        except SQLAlchemyError as exc:  # the writer logged why; the partner retries later
            log.warning("delivery for store %s not stored: %s", store, type(exc).__name__)
            await _answer(send, 503, {"error": "could not store the delivery; try again"})
            return
        if stored:
            self._counted["stored"].inc()
            self.queue.submit_inbox()
            await _text(send, b"accepted")
        else:
            self._counted["duplicate"].inc()
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
