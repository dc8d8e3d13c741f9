"""The QuickBooks Online Accounting API v3 over the shared transport (``PartnerHttp``).

Every call carries ``minorversion=75``, ``Accept: application/json`` and a bearer token
from ``TokenSource``; a 401 gets one refresh and one retry. Calls are paced by the
realm's limiter (10 a second, 500 a minute, 10 in flight) and ``/batch`` additionally by
the realm's batch limiter (40 a minute). A 429 pauses the realm for ``Retry-After``
seconds when given, else 60 (Intuit: "wait about 60 seconds").

Answers come back as ``Answer`` (status and decoded JSON); 5xx, 429 and dropped
connections are handled by ``PartnerHttp`` (retried when the call is idempotent — every
create here carries a ``requestid``, so it is).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.errors import PartnerAuthError, PartnerResponseError
from stockbridge.connectors.http import PartnerHttp
from stockbridge.connectors.qbo.auth import TokenSource
from stockbridge.connectors.qbo.mapping import PARTNER, decode, dumps, parse_fault
from stockbridge.connectors.ratelimit import LimiterRegistry, RateLimiter, Window
from stockbridge.retry import RetryPolicy

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_TOKEN_URL",
    "MINOR_VERSION",
    "Answer",
    "QboClient",
    "realm_limiters",
]

DEFAULT_API_URL = "https://quickbooks.api.intuit.com"
DEFAULT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
MINOR_VERSION = "75"
DEFAULT_429_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    data: Mapping[str, Any]

    def require_ok(self, what: str) -> Mapping[str, Any]:
        """The body of a 200; a fault or other status becomes PartnerResponseError."""
        if self.status == 200:
            return self.data
        fault = parse_fault(self.data)
        reason = fault.describe() if fault else f"status {self.status}"
        raise PartnerResponseError(
            f"{what} refused: {reason}", partner=PARTNER, code=fault.code if fault else None
        )


#: QuickBooks counts requests when they arrive; ours are counted when they leave. Each
#: window is stretched a little (0.1 s a second, 2 s a minute) so that a request delayed
#: on the way (network, a busy host) does not land in the previous window. That still
#: uses >= 90% of each documented quota.
PER_SECOND = Window(10, 1.1)
PER_MINUTE = Window(500, 62.0)
BATCHES_PER_MINUTE = Window(40, 62.0)


def realm_limiters(limiters: LimiterRegistry, realm_id: str) -> tuple[RateLimiter, RateLimiter]:
    """The realm's limiter for every call (10 a second, 500 a minute, 10 in flight), and
    the one for ``/batch`` calls (40 a minute)."""
    every = limiters.get(
        f"qbo:{realm_id}", lambda: RateLimiter([PER_SECOND, PER_MINUTE], max_in_flight=10)
    )
    batch = limiters.get(f"qbo-batch:{realm_id}", lambda: RateLimiter([BATCHES_PER_MINUTE]))
    return every, batch


class _BatchSlot(RateLimiter):
    """A batch call waits for a batch slot, then for a slot of the realm (whose quota it
    also uses); 429s and quota reports go to the realm's limiter."""

    def __init__(self, batch: RateLimiter, realm: RateLimiter) -> None:
        super().__init__()
        self.batch, self.realm = batch, realm

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self.batch.slot(), self.realm.slot():
            yield

    def pause(self, seconds: float) -> None:
        self.realm.pause(seconds)


def retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return DEFAULT_429_WAIT


def _describe(response: httpx.Response) -> str:
    try:
        fault = parse_fault(decode(response.content, "error answer"))
    except PartnerResponseError:
        return f"{response.reason_phrase} {response.text[:200]}".strip()
    return fault.describe() if fault else response.reason_phrase


class QboClient:
    """One realm's API. Not shared between threads (``PartnerHttp`` is; tokens are)."""

    def __init__(
        self,
        *,
        client: httpx.Client,
        api_url: str,
        realm_id: str,
        tokens: TokenSource,
        limiters: LimiterRegistry,
        retry: RetryPolicy,
    ) -> None:
        self.realm_id = realm_id
        self.base = f"{api_url.rstrip('/')}/v3/company/{realm_id}"
        self.tokens = tokens
        every, batch = realm_limiters(limiters, realm_id)
        common = {
            "partner": PARTNER,
            "client": client,
            "retry": retry,
            "retry_after": retry_after,
            "describe_error": _describe,
        }
        self.http = PartnerHttp(limiter=every, **common)  # type: ignore[arg-type]
        self.batch_http = PartnerHttp(limiter=_BatchSlot(batch, every), **common)  # type: ignore[arg-type]

    @property
    def requests_made(self) -> int:
        return self.http.counter.requests + self.batch_http.counter.requests

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Answer:
        return self._call("GET", path, params=params)

    def query(self, statement: str) -> Answer:
        return self.get("query", {"query": statement})

    def post(
        self,
        path: str,
        body: Any,
        *,
        request_id: str | None = None,
        batch: bool = False,
        operation: str | None = None,
    ) -> Answer:
        params = {"requestid": request_id} if request_id else {}
        if operation:
            params["operation"] = operation
        return self._call("POST", path, params=params or None, body=dumps(body), batch=batch)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        batch: bool = False,
    ) -> Answer:
        http = self.batch_http if batch else self.http
        query = {**(params or {}), "minorversion": MINOR_VERSION}
        token = self.tokens.current()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = http.request(
                    method, f"{self.base}/{path}", params=query, content=body, headers=headers
                )
            except PartnerAuthError:
                if attempt == 2:
                    raise PartnerAuthError(
                        "reconnect QuickBooks: the API refused a freshly refreshed token",
                        partner=PARTNER,
                        code="401",
                    ) from None
                token = self.tokens.after_rejection(token)
                continue
            return Answer(response.status_code, decode(response.content, f"{method} {path}"))
        raise AssertionError("unreachable")  # pragma: no cover
