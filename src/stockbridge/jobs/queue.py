"""The queue port and the embedded, in-process implementation.

The database is the record of what must run (sync runs, inbox events); a queue only
executes. Submitting is therefore a nudge, never the only copy: after a crash
``resume()`` finds queued runs and unprocessed events again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["InProcessQueue", "JobQueue"]

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Runs recorded work somewhere. ``submit_run`` executes a queued run (a run already
    finished or running elsewhere is a no-op); ``submit_inbox`` processes pending inbox
    events. Both return at once."""

    def submit_run(self, run_id: int) -> None: ...

    def submit_inbox(self) -> None: ...


class InProcessQueue:
    """Worker threads in this process (embedded mode)."""

    def __init__(
        self,
        *,
        execute_run: Callable[[int], object],
        process_inbox: Callable[[], object],
        workers: int = 2,
        inbox_settle_seconds: float = 0.2,
    ) -> None:
        self._execute_run = execute_run
        self._process_inbox = process_inbox
        self._jobs: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._inbox_pending = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"worker-{n}", daemon=True)
            for n in range(workers)
        ]
        self._inbox_thread = threading.Thread(target=self._inbox_loop, name="inbox", daemon=True)
        self._stopping = False
        self._settle = inbox_settle_seconds

    def start(self) -> InProcessQueue:
        for thread in self._threads:
            thread.start()
        self._inbox_thread.start()
        return self

    def stop(self, wait_seconds: float = 30.0) -> None:
        """Stop taking work and give the runs in progress up to ``wait_seconds`` to finish
        (a run cut short is marked interrupted and resumed by the next start). Runs still
        queued stay queued in the database for the next start."""
        self._stopping = True
        for _ in self._threads:
            self._jobs.put(None)
        self._inbox_pending.set()
        deadline = time.monotonic() + wait_seconds
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def submit_run(self, run_id: int) -> None:
        self._jobs.put(("run", run_id))

    def submit_inbox(self) -> None:
        self._inbox_pending.set()

    def pending(self) -> int:
        return self._jobs.qsize()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            _, run_id = job
            if self._stopping:  # left queued in the database: the next start runs it
                self._jobs.task_done()
                continue
            try:
                self._execute_run(run_id)
            except Exception:  # a worker thread must outlive any one run; the run records it
                log.exception("run %s could not be executed", run_id)
            finally:
                self._jobs.task_done()

    def _inbox_loop(self) -> None:
        while not self._stopping:
            self._inbox_pending.wait(timeout=2.0)  # also polls: another node may have written
            if self._stopping:
                return
            # Let a burst of deliveries gather: one pass (one transaction, one merged run
            # request per store) serves them all.
            time.sleep(self._settle)
            self._inbox_pending.clear()
            try:
                self._process_inbox()
            except Exception:  # keep the loop alive; events stay pending and are retried
                log.exception("inbox processing failed; will retry")
