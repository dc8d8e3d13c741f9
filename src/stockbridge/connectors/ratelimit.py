"""One rate limiter per partner account, shared by every connector instance in a process.

It combines what a partner documents and what it reports:

* fixed windows from the documentation (QuickBooks: 10 a second, 500 a minute) — a request
  waits until it fits every window;
* a cap on requests in flight (QuickBooks: 10);
* the partner's own quota headers (BigCommerce: requests left and time to the window's
  reset) — the requests left (less a reserve for the store's other apps and less the
  requests still in flight) may go at once, as a burst; once they are used up the next
  request waits for the reset. So a burst of fewer calls than the window has left never
  waits, and a long push uses the whole quota without tripping it;
* a pause after a 429 for as long as the partner says.

In scaled mode many processes call the same account. A ``QuotaLedger`` (the hub gives
``LimiterRegistry`` one on PostgreSQL: ``db/quota.py``) then keeps the windows, the
requests in flight, the pause and the header-derived budget in the database, one row set
per account, so the limits hold for all processes together; this process's own limiter
still caps what it sends itself.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["LimiterRegistry", "QuotaLedger", "QuotaReport", "RateLimiter", "Window"]

#: Added to a reported time to the reset: the partner rounds it down to the millisecond.
RESET_MARGIN = 0.01


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``requests`` in any ``seconds``-long span."""

    requests: int
    seconds: float


@dataclass(frozen=True, slots=True)
class QuotaReport:
    """What a partner said about its quota in one response's headers."""

    left: int | None = None
    quota: int | None = None
    reset_seconds: float | None = None


class QuotaLedger(Protocol):
    """An account's pacing kept where every process sees it (contract for ``db/quota.py``).

    ``try_start`` starts a request when it fits every window, the in-flight cap, the pause
    and the spacing, counting it in the same atomic step: it returns ``(0, ticket)``;
    otherwise ``(seconds to wait, None)`` and counts nothing. ``finish(ticket)`` ends a
    request in flight (a ticket of a process that died expires on its own)."""

    def try_start(
        self, account: str, windows: Sequence[Window], max_in_flight: int | None
    ) -> tuple[float, int | None]: ...

    def finish(self, account: str, ticket: int | None) -> None: ...

    def set_budget(self, account: str, requests: int, seconds: float) -> None:
        """The partner allows ``requests`` more in the next ``seconds`` (its window's
        reset): each start uses one, none starts while none is left until then. A report
        within the same window never raises what is left (reports of several processes
        arrive out of order); one for a later window replaces it."""
        ...

    def pause(self, account: str, seconds: float) -> None: ...


class RateLimiter:
    """Thread-safe pacing for one partner account. ``clock``/``sleep`` are injectable."""

    def __init__(
        self,
        windows: Sequence[Window] = (),
        *,
        max_in_flight: int | None = None,
        reserve: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.windows = tuple(windows)
        self.reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: list[deque[float]] = [deque() for _ in self.windows]
        self._in_flight = threading.BoundedSemaphore(max_in_flight) if max_in_flight else None
        self._not_before = 0.0  # no request before this moment (429 pause)
        #: Requests the partner's headers still allow until ``_budget_until`` (None: the
        #: partner has not said, or its window has reset since).
        self._budget: int | None = None
        self._budget_until = 0.0
        self._flying = 0  # requests of this limiter started and not yet finished
        self.waited_seconds = 0.0
        self._ledger: QuotaLedger | None = None
        self._account = ""
        self._max_in_flight = max_in_flight

    def share(self, ledger: QuotaLedger, account: str) -> None:
        """Pace ``account`` together with every process using ``ledger``."""
        self._ledger, self._account = ledger, account

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold while one request is in flight."""
        if self._in_flight is not None:
            self._in_flight.acquire()
        ticket: int | None = None
        started = False
        try:
            self._wait_turn()
            started = True
            if self._ledger is not None:
                ticket = self._wait_shared_turn(self._ledger)
            yield
        finally:
            if started:
                with self._lock:
                    self._flying -= 1
            if self._ledger is not None and ticket is not None:
                self._ledger.finish(self._account, ticket)
            if self._in_flight is not None:
                self._in_flight.release()

    def _wait_shared_turn(self, ledger: QuotaLedger) -> int | None:
        while True:
            wait, ticket = ledger.try_start(self._account, self.windows, self._max_in_flight)
            if wait <= 0:
                return ticket
            self.waited_seconds += wait
            self._sleep(wait)

    def _wait_turn(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._not_before - now
                if self._budget is not None and now >= self._budget_until:
                    self._budget = None  # the partner's window has reset
                if self._budget is not None and self._budget <= 0:
                    wait = max(wait, self._budget_until - now)
                for window, sent in zip(self.windows, self._sent, strict=True):
                    while sent and sent[0] <= now - window.seconds:
                        sent.popleft()
                    if len(sent) >= window.requests:
                        wait = max(wait, sent[0] + window.seconds - now)
                if wait <= 0:
                    self._flying += 1
                    if self._budget is not None:
                        self._budget -= 1
                    for sent in self._sent:
                        sent.append(now)
                    return
            self.waited_seconds += wait
            self._sleep(wait)

    def observe(self, report: QuotaReport) -> None:
        """Adjust pacing to what the partner reports about its quota."""
        if report.left is None or report.reset_seconds is None:
            return
        with self._lock:
            # What is left, less the reserve and the other requests still in flight (the
            # partner may not have counted them yet; this one it has).
            usable = max(0, report.left - self.reserve - max(0, self._flying - 1))
            self._budget = usable
            reset = max(0.0, report.reset_seconds) + RESET_MARGIN
            self._budget_until = self._clock() + reset
        if self._ledger is not None:
            # The quota is the account's, whoever reads it: the budget is shared.
            self._ledger.set_budget(self._account, usable, reset)

    def pause(self, seconds: float) -> None:
        """The partner said "too many requests": no request for ``seconds``."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + max(0.0, seconds))
        if self._ledger is not None:
            self._ledger.pause(self._account, max(0.0, seconds))


@dataclass
class LimiterRegistry:
    """Hands out the one limiter of each partner account (e.g. ``bigcommerce:store_hash``)."""

    _limiters: dict[str, RateLimiter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Scaled mode: the accounts' pacing shared with every other process.
    ledger: QuotaLedger | None = None

    def get(self, key: str, make: Callable[[], RateLimiter]) -> RateLimiter:
        with self._lock:
            if key not in self._limiters:
                limiter = make()
                if self.ledger is not None:
                    limiter.share(self.ledger, key)
                self._limiters[key] = limiter
            return self._limiters[key]
