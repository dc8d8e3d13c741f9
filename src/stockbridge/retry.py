"""The retry policy of a partner call: how many tries, and how long between them.

There is one retry layer, the transport each connector talks through
(``connectors.http.PartnerHttp``; the feed's URL source for feeds). It is the only code
that knows whether a request is safe to send again and what the partner said about when
to come back, so it alone repeats a call, at most ``attempts`` times. Sync steps never
repeat a partner call: a ``TransientPartnerError`` that reaches them means the bound is
spent, and they record it on the run (the next run tries again).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RetryPolicy"]


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
