"""The embedded service: HTTP app, in-process worker, inbox processor and scheduler in one
process (``stockbridge serve``). On start it resumes what a crash left: queued or running
runs and unprocessed inbox events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fastapi import FastAPI

from stockbridge.bootstrap import Hub
from stockbridge.jobs.inbox import process_inbox
from stockbridge.jobs.queue import InProcessQueue
from stockbridge.web.app import create_app

__all__ = ["Service"]

log = logging.getLogger(__name__)


class Service:
    def __init__(self, hub: Hub, *, workers: int = 2, tick_seconds: float = 5.0) -> None:
        self.hub = hub
        self.queue = InProcessQueue(
            execute_run=self._execute, process_inbox=self._drain_inbox, workers=workers
        )
        self.app: FastAPI = create_app(hub, self.queue)
        self.tick_seconds = tick_seconds
        self.periodic: list[Callable[[], None]] = []  # scheduler / alerts hook in here
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="ticker", daemon=True)

    def start(self) -> Service:
        self.hub.require_initialised()
        self.queue.start()
        self.resume()
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.queue.stop()

    def resume(self) -> int:
        """Submit every run left queued or running (by a process that died) and the
        inbox. Returns how many runs were resubmitted."""
        with self.hub.uow() as uow:
            run_ids = [run.id for run in uow.runs.unfinished()]
        for run_id in run_ids:
            self.queue.submit_run(run_id)
        self.queue.submit_inbox()
        if run_ids:
            log.info("resumed %d unfinished runs", len(run_ids))
        return len(run_ids)

    def _execute(self, run_id: int) -> None:
        self.hub.runner().execute(run_id)

    def _drain_inbox(self) -> None:
        while True:
            with self.hub.uow() as uow:
                pending = uow.inbox.depth()
                if not pending:
                    return
                run_ids = process_inbox(uow)
                uow.commit()
            for run_id in run_ids:
                self.queue.submit_run(run_id)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            for job in self.periodic:
                try:
                    job()
                except Exception:  # one failing periodic job must not stop the others
                    log.exception("periodic job %s failed", getattr(job, "__name__", job))
