"""The embedded service: HTTP app, in-process worker, inbox processor and scheduler in one
process (``stockbridge serve``). On start it resumes what a crash left: queued or running
runs and unprocessed inbox events.

Given another ``queue`` (scaled mode, ``serve --no-worker``: jobs go to procrastinate and
``stockbridge worker`` processes run them, the scheduler included) it serves the API,
webhooks and dashboard only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from stockbridge.bootstrap import Hub
from stockbridge.jobs.inbox import INBOX_BATCH, count_pass, process_inbox
from stockbridge.jobs.queue import InProcessQueue, JobQueue
from stockbridge.web.app import create_app

__all__ = ["Service", "serve_http"]

log = logging.getLogger(__name__)


class Service:
    def __init__(
        self,
        hub: Hub,
        *,
        workers: int = 2,
        tick_seconds: float = 5.0,
        alert_every_seconds: float = 60.0,
        queue: JobQueue | None = None,
    ) -> None:
        self.hub = hub
        self.worker: InProcessQueue | None = None
        self.queue: JobQueue
        if queue is None:
            self.worker = self.queue = InProcessQueue(
                execute_run=self._execute, process_inbox=self._drain_inbox, workers=workers
            )
        else:
            self.queue = queue
        self.app: FastAPI = create_app(hub, self.queue)
        self.tick_seconds = tick_seconds
        self.scheduler = hub.scheduler()
        self._alert_client = hub.outbound_client(timeout=10)
        self.alerter = hub.alerter(self._alert_client)
        self._alert_every = alert_every_seconds
        self._last_alert_check = 0.0
        self.periodic: list[Callable[[], None]] = [self._schedule, self._alerts, self._recover]
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="ticker", daemon=True)

    def start(self) -> Service:
        self.hub.require_initialised()
        if self.worker is None:  # scaled mode: the workers run jobs, ticks and alerts
            return self
        self.worker.start()
        self.resume()
        self._schedule()  # a slot missed while the server was down runs once, now
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.stop()
        self.app.state.inbox_writer.close()
        self._alert_client.close()

    def resume(self) -> int:
        """Mark runs left running by a process that died ``interrupted``, queue runs
        resuming their remaining steps, and submit every queued run and the inbox.
        Returns how many runs were submitted."""
        self.hub.runner().recover()
        with self.hub.uow() as uow:
            run_ids = [run.id for run in uow.runs.unfinished() if run.status == "queued"]
        for run_id in run_ids:
            self.queue.submit_run(run_id)
        self.queue.submit_inbox()
        if run_ids:
            log.info("resumed %d unfinished runs", len(run_ids))
        return len(run_ids)

    def _schedule(self) -> None:
        """Queue the runs whose slot has come, and execute them here."""
        for run_id in self.scheduler.tick(datetime.now(UTC)):
            self.queue.submit_run(run_id)

    def _recover(self) -> None:
        """Runs whose process died elsewhere (their lease expired): interrupted, resumed."""
        for run_id in self.hub.runner().recover():
            self.queue.submit_run(run_id)

    def _alerts(self) -> None:
        if time.monotonic() - self._last_alert_check >= self._alert_every:
            self._last_alert_check = time.monotonic()
            self.alerter.check(datetime.now(UTC))

    def _execute(self, run_id: int) -> None:
        self.hub.runner().execute(run_id)

    def _drain_inbox(self) -> None:
        while True:
            with self.hub.uow() as uow:
                done = process_inbox(uow, INBOX_BATCH)
                uow.commit()
            count_pass(done)
            # A new run for stock news waits for the window, so the rest of a burst merges
            # into it; a merged one is already submitted.
            for run_id in done.new_run_ids:
                self.queue.submit_run(run_id)
            window = self.hub.settings.webhook_window_seconds
            for run_id in done.held_run_ids:
                if window > 0:
                    timer = threading.Timer(window, self.queue.submit_run, (run_id,))
                    timer.daemon = True
                    timer.start()
                else:
                    self.queue.submit_run(run_id)
            if done.events < INBOX_BATCH:
                return

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            for job in self.periodic:
                try:
                    job()
                except Exception:  # one failing periodic job must not stop the others
                    log.exception("periodic job %s failed", getattr(job, "__name__", job))


def serve_http(app: FastAPI, *, host: str, port: int, forwarded_allow_ips: str = "") -> None:
    """Serve ``app`` with uvicorn until interrupted.

    Proxy headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the peers in
    ``forwarded_allow_ips`` (comma-separated addresses or networks, ``*`` for any): the
    client address they give is what the login throttle counts, so a client that could
    set its own would choose a fresh address per guess. Default: none (uvicorn itself
    would trust 127.0.0.1, i.e. every local client and any proxy passing the header on).
    """
    import uvicorn

    allowed = forwarded_allow_ips.strip()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(allowed),
        forwarded_allow_ips=allowed,
    )
