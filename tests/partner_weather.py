"""Bad weather between the hub and a sandbox, for the whole-cycle test: 429s and timeouts
on top of the sandboxes' own faults (5xx, dropped connections, answers lost after the
write was applied).

``Weather`` wraps a sandbox's ASGI app. On the partner's API paths it answers, with a
seeded probability, 429 (another app on the same account used the quota: the partner's
own headers say how long to wait) or lets the call time out, either hanging before the
partner does anything or applying the call and answering too late. ``short_timeouts``
gives a connector a client that gives up after ``READ_TIMEOUT`` seconds (the product's
30 s would make the test wait 30 s per timeout); the weather holds a timed-out call for
``HANG`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockbridge.connectors.registry import ConnectorFactory

__all__ = [
    "HANG",
    "READ_TIMEOUT",
    "Weather",
    "bigcommerce_throttle",
    "quickbooks_throttle",
    "short_timeouts",
]

READ_TIMEOUT = 1.0
HANG = READ_TIMEOUT + 0.6
KINDS = ("429", "timeout", "timeout_after")


class _Deadline(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["timeout"] = httpx.Timeout(READ_TIMEOUT, connect=5.0).as_dict()
        return super().handle_request(request)


def short_timeouts(factory: ConnectorFactory) -> ConnectorFactory:
    """``factory`` with a client that times out after ``READ_TIMEOUT`` seconds."""
    return lambda env: factory(replace(env, transport=_Deadline()))


class Weather:
    """``app`` with 429s and timeouts on paths starting with ``prefix``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        throttled: Callable[[], tuple[dict[str, str], bytes]],
        seed: int = 1,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.throttled = throttled
        self.rng = random.Random(seed)
        self.rate = 0.0
        #: call number (on ``prefix``, from 1) -> the kind of fault that call gets
        self.planned: dict[int, str] = {}
        self.calls = 0
        #: (path part, path part, n): the first call whose path has the first part is
        #: applied but answered too late, and the next ``n`` calls whose path has the
        #: second part answer 503 (the look-ups of a run whose post went through, gone)
        self.applied_then_unreachable: tuple[str, str, int] | None = None
        self.unreachable, self.unreachable_left = "", 0
        self.injected: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = None
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith(self.prefix):
            self.calls += 1
            kind = self.planned.pop(self.calls, None)
            if kind is None and self.unreachable_left and self.unreachable in path:
                self.unreachable_left -= 1
                kind = "503"
            elif (
                kind is None
                and self.applied_then_unreachable
                and self.applied_then_unreachable[0] in path
            ):
                _trigger, down, count = self.applied_then_unreachable
                self.applied_then_unreachable = None
                self.unreachable, self.unreachable_left = down, count
                kind = "timeout_after"
            if kind is None and self.rate and self.rng.random() < self.rate:
                kind = self.rng.choice(KINDS)
            if kind is not None:
                self.injected[kind] += 1
        if kind == "503":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"Service Unavailable"})
            return
        if kind == "429":
            headers, body = self.throttled()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if kind == "timeout":  # the partner hangs, does nothing; the client gives up
            await asyncio.sleep(HANG)
            await send({"type": "http.response.start", "status": 504, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if kind == "timeout_after":  # applied at once, the answer comes too late

            async def late(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await asyncio.sleep(HANG)
                await send(message)

            await self.app(scope, receive, late)
            return
        await self.app(scope, receive, send)


def bigcommerce_throttle(window_ms: int, quota: int) -> Callable[[], tuple[dict[str, str], bytes]]:
    """BigCommerce's 429: the window's reset time in its headers."""

    def answer() -> tuple[dict[str, str], bytes]:
        reset = str(max(1, window_ms // 4))
        return (
            {
                "Content-Type": "application/json",
                "X-Rate-Limit-Time-Window-Ms": str(window_ms),
                "X-Rate-Limit-Time-Reset-Ms": reset,
                "X-Rate-Limit-Requests-Quota": str(quota),
                "X-Rate-Limit-Requests-Left": "0",
                "X-Retry-After": "1",
            },
            json.dumps({"status": 429, "title": "Too many requests"}).encode(),
        )

    return answer


def quickbooks_throttle(retry_after: float) -> Callable[[], tuple[dict[str, str], bytes]]:
    """QuickBooks' 429 (ThrottleExceeded); ``Retry-After`` as the sandbox's config sends it."""

    def answer() -> tuple[dict[str, str], bytes]:
        fault = {
            "Fault": {
                "Error": [
                    {
                        "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                        "Detail": "The request limit for this company has been exceeded",
                        "code": "003001",
                    }
                ],
                "type": "ThrottleExceeded",
            }
        }
        headers = {"Content-Type": "application/json", "Retry-After": str(retry_after)}
        return headers, json.dumps(fault).encode()

    return answer
