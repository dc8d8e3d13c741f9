"""The transport every partner client shares: rate limiting, bounded retries with
jittered back-off, one log line per request, and errors sorted into the PartnerError tree.

This is the one retry layer of the hub (see ``stockbridge.retry``). It is the right one
because only here is it known whether a request is safe to send again (``idempotent``:
a dropped connection after a POST without a request id may have created something) and
what the partner said (429 with Retry-After / quota headers, which feed the account's
limiter). A step above that repeated a call would multiply the bound (three tries here
times three there: nine PUTs for one inventory batch) without knowing either. So one
partner call costs at most ``retry.attempts`` tries that fail (5xx, timeouts, dropped
connections) plus at most ``max_429`` waits the partner asked for; then the caller gets
the error, with the partner's own message, and records it.

A connector gives it an ``httpx.Client`` (tests and sandboxes pass one pointed at a
loopback server), a limiter for the account, and a function that reads the partner's
quota headers. Statuses it handles itself:

* 429: pause the account's limiter for the time the partner gives, then try again
  (bounded by ``max_429``);
* 5xx, timeouts, dropped connections: back off with jitter and try again, bounded —
  unless the request is not safe to repeat (``idempotent=False``), in which case the
  caller gets a TransientPartnerError at once and looks the outcome up itself;
* 401: PartnerAuthError.

Every other response goes back to the caller, which knows the partner's error bodies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.errors import PartnerAuthError, TransientPartnerError
from stockbridge.connectors.ratelimit import QuotaReport, RateLimiter
from stockbridge.metrics import PARTNER_CALLS, PARTNER_THROTTLED
from stockbridge.retry import RetryPolicy

__all__ = ["CallCounter", "PartnerHttp"]

log = logging.getLogger("stockbridge.partner")


@dataclass
class CallCounter:
    """Counts a client's requests (for run summaries, metrics and benchmarks)."""

    requests: int = 0
    throttled: int = 0
    retried: int = 0


class PartnerHttp:
    def __init__(
        self,
        *,
        partner: str,
        client: httpx.Client,
        limiter: RateLimiter,
        retry: RetryPolicy,
        read_quota: Callable[[httpx.Response], QuotaReport] = lambda _r: QuotaReport(),
        retry_after: Callable[[httpx.Response], float] = lambda _r: 1.0,
        max_429: int = 8,
        describe_error: Callable[[httpx.Response], str] | None = None,
    ) -> None:
        self.partner = partner
        self.client = client
        self.limiter = limiter
        self.retry = retry
        self.read_quota = read_quota
        self.retry_after = retry_after
        self.max_429 = max_429
        self.describe_error = describe_error or (lambda r: r.text[:500])
        self.counter = CallCounter()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one request through the limiter; see the module docstring for what is
        retried. Returns any response that is not 429, 5xx or 401.
        """
        failures = throttles = 0
        while True:
            with self.limiter.slot():
                started = time.perf_counter()
                try:
                    response = self.client.request(
                        method, url, params=params, json=json, content=content, headers=headers
                    )
                except httpx.TransportError as exc:
                    self._log(method, url, "error", started, type(exc).__name__)
                    failures += 1
                    uncertain = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                    if (uncertain and not idempotent) or failures >= self.retry.attempts:
                        raise TransientPartnerError(
                            f"{method} {_path(url)}: {type(exc).__name__}: {exc}".rstrip(": "),
                            partner=self.partner,
                        ) from exc
                    self.counter.retried += 1
                    self.retry.sleep(self.retry.delay(failures))
                    continue
                self.counter.requests += 1
                PARTNER_CALLS.labels(self.partner, str(response.status_code)).inc()
                self._log(method, url, response.status_code, started)
                self.limiter.observe(self.read_quota(response))
            status = response.status_code
            if status == 429:
                self.counter.throttled += 1
                PARTNER_THROTTLED.labels(self.partner).inc()
                throttles += 1
                wait = self.retry_after(response)
                self.limiter.pause(wait)
                if throttles > self.max_429:
                    raise TransientPartnerError(
                        f"{method} {_path(url)}: still rate limited after {throttles} waits",
                        partner=self.partner,
                        code="429",
                    )
                continue
            if status >= 500:
                failures += 1
                if not idempotent or failures >= self.retry.attempts:
                    raise TransientPartnerError(
                        f"{method} {_path(url)}: {status} {self.describe_error(response)}",
                        partner=self.partner,
                        code=str(status),
                    )
                self.counter.retried += 1
                self.retry.sleep(self.retry.delay(failures))
                continue
            if status == 401:
                raise PartnerAuthError(
                    f"{method} {_path(url)}: {self.describe_error(response)}",
                    partner=self.partner,
                    code="401",
                )
            return response

    def _log(self, method: str, url: str, status: object, started: float, note: str = "") -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %s %s %.0fms%s",
            self.partner,
            method,
            _path(url),
            status,
            elapsed_ms,
            f" {note}" if note else "",
        )


def _path(url: str) -> str:
    """The path only: query strings may carry tokens and never reach a log."""
    return httpx.URL(url).path
