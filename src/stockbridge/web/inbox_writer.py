"""Group commit for incoming events: one writer thread stores deliveries in batches, and
each delivery is answered only once the batch holding it has committed.

A delivery costs one row in a shared transaction instead of a transaction of its own,
and only this thread competes for the database's write lock on behalf of the receivers.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from stockbridge.db.uow import UnitOfWork

__all__ = ["InboxWriter", "PendingEvent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingEvent:
    store_id: int
    source: str
    dedup_key: str
    kind: str
    payload: dict[str, Any]


class InboxWriter:
    def __init__(self, uow: Callable[[], UnitOfWork], *, max_batch: int = 500) -> None:
        self._uow = uow
        self._max_batch = max_batch
        self._queue: queue.Queue[tuple[PendingEvent, Future[bool]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    def submit(self, event: PendingEvent) -> Future[bool]:
        """A future that resolves to True (stored) or False (a duplicate) after commit, or
        to the database error if the batch could not be committed."""
        future: Future[bool] = Future()
        self._queue.put((event, future))
        return future

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            try:
                if not self._take_batch():
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

    def _write(self, batch: list[tuple[PendingEvent, Future[bool]]]) -> None:
        try:
            with self._uow() as uow:
                results = uow.inbox.add_many([e.__dict__ for e, _ in batch])
                uow.commit()
        except Exception as exc:  # answer every waiting delivery with the failure (5xx)
            log.exception("could not store %d inbox events", len(batch))
            for _, future in batch:
                if not future.done():  # a receiver may have gone away (cancelled)
                    future.set_exception(exc)
            return
        for (_, future), stored in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(stored)
