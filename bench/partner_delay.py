"""Sandboxes that answer after a partner's realistic delay, for benches where waiting on
partners is what an operator sees (``bench workers``).

Each partner API call (never the sandboxes' ``/admin`` routes) is answered a time drawn
from a log-normal distribution (given by its median and 95th percentile, seeded) after it
arrived: the sandbox counts it against its limits on arrival, as the partner does, and its
answer goes out once that time has passed. The wait is an ``asyncio.sleep`` in the
sandbox's event loop: the sandbox keeps answering other calls meanwhile, as a partner's
servers do.

Which figures, and from what: no partner publishes its API's response times. The
profiles below take the range issue 31 states for real partners ("100-500 ms") and place
each partner in it: BigCommerce REST (reads of 250 orders with their lines, inventory
batches) median 150 ms, p95 400 ms; QuickBooks Online (queries, 30-receipt batches, token
refresh) median 250 ms, p95 600 ms. Assumed, not measured against the partners: change
them with ``--bigcommerce-ms MEDIAN,P95`` and ``--qbo-ms MEDIAN,P95``.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["BIGCOMMERCE", "QBO", "Delayed", "LogNormal", "parse_profile"]

#: z of the 95th percentile of a standard normal distribution
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class LogNormal:
    """Waits whose median is ``median`` seconds and 95th percentile ``p95`` seconds."""

    median: float
    p95: float

    def draw(self, rng: random.Random) -> float:
        if self.median <= 0:
            return 0.0
        sigma = math.log(self.p95 / self.median) / Z95 if self.p95 > self.median else 0.0
        return rng.lognormvariate(math.log(self.median), sigma)

    def label(self) -> str:
        return f"log-normal, median {self.median * 1000:.0f} ms, p95 {self.p95 * 1000:.0f} ms"


BIGCOMMERCE = LogNormal(0.150, 0.400)
QBO = LogNormal(0.250, 0.600)
NONE = LogNormal(0.0, 0.0)


def parse_profile(text: str) -> LogNormal:
    """``MEDIAN,P95`` in milliseconds (``0,0``: no delay)."""
    median, p95 = (float(part) / 1000 for part in text.split(","))
    if median < 0 or p95 < median:
        raise ValueError(f"{text!r}: want MEDIAN,P95 in ms with 0 <= MEDIAN <= P95")
    return LogNormal(median, p95)


class Delayed:
    """An ASGI app that waits ``delay`` before handing each partner call to ``app``."""

    def __init__(self, app: Any, delay: LogNormal, *, seed: int = 31) -> None:
        self.app = app
        self.delay = delay
        self.rng = random.Random(seed)
        self.waited = 0.0
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/admin/"):
            await self.app(scope, receive, send)
            return
        wait = self.delay.draw(self.rng)
        self.calls += 1
        self.waited += wait
        loop = asyncio.get_running_loop()
        until = loop.time() + wait

        async def answer_later(message: Any) -> None:
            # The partner counts a call against its limits when it arrives and answers
            # after its processing time: the wait goes before the answer, not before
            # the sandbox sees the call (waiting first would bunch arrivals that the
            # client spaced, and draw 429s no partner would send).
            if message["type"] == "http.response.start":
                remaining = until - loop.time()
                if remaining > 0:
                    await asyncio.sleep(remaining)
            await send(message)

        await self.app(scope, receive, answer_later)
