"""Bounded retries with jittered exponential back-off, for transient partner failures."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stockbridge.connectors.errors import TransientPartnerError

__all__ = ["RetryPolicy"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all (the first included); waits ``base_delay * 2**n``, halved
    at random (full jitter on the upper half), capped at ``max_delay``.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, failed_attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (failed_attempt - 1))
        return float(ceiling * random.uniform(0.5, 1.0))

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` until it succeeds or ``attempts`` transient failures; re-raise the last.

        Only ``TransientPartnerError`` is retried; anything else propagates at once.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except TransientPartnerError:
                if attempt >= self.attempts:
                    raise
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover
