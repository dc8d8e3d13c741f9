"""Group commit for incoming events: one writer thread stores deliveries in batches, and
each delivery is answered only once the batch holding it has committed.

A delivery costs one row in a shared transaction instead of a transaction of its own,
and only this thread competes for the database's write lock on behalf of the receivers.
Receivers on an event loop (``store``) are woken once per batch, not once per delivery:
one cross-thread call resolves every waiter of a batch on that loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, TypeAlias

from stockbridge.db.inbox import MAX_INSERT_ROWS, InboxAppender

__all__ = ["InboxWriter", "PendingEvent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingEvent:
    store_id: int
    source: str
    dedup_key: str
    kind: str
    payload: dict[str, Any]


_Item: TypeAlias = tuple[PendingEvent, "asyncio.Future[bool]"]


class InboxWriter:
    def __init__(self, appender: InboxAppender, *, max_batch: int = MAX_INSERT_ROWS) -> None:
        self._appender = appender
        self._max_batch = min(max_batch, MAX_INSERT_ROWS)
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    async def store(self, event: PendingEvent) -> bool:
        """Store ``event`` with the next batch: True (stored) or False (a duplicate) once
        committed; raises the database error if the batch could not be committed."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put((event, waiter))
        return await waiter

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            try:
                if not self._take_batch():
                    self._appender.close()
                    return
            except Exception:  # this thread must outlive any one batch, or receivers hang
                log.exception("inbox writer: unexpected error; carrying on")

    def _take_batch(self) -> bool:
        """Write one batch; False once closed."""
        first = self._queue.get()
        if first is None:
            return False
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        self._write(batch)
        return True

    def _write(self, batch: list[_Item]) -> None:
        outcomes: list[bool] | Exception
        try:
            outcomes = self._appender.append([e.__dict__ for e, _ in batch])  # committed
        except Exception as exc:  # answer every waiting delivery with the failure (5xx)
            log.exception("could not store %d inbox events", len(batch))
            outcomes = exc
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], Any]]] = {}
        for n, (_, waiter) in enumerate(batch):
            outcome = outcomes if isinstance(outcomes, Exception) else outcomes[n]
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                log.warning("inbox writer: %d answers for a closed event loop", len(settled))


def _settle_all(settled: list[tuple[asyncio.Future[bool], bool | Exception]]) -> None:
    """On the receivers' loop: answer each waiter of a batch."""
    for waiter, outcome in settled:
        if waiter.done():  # a receiver may have gone away (cancelled)
            continue
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
