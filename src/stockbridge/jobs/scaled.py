"""Scaled mode: the job port on procrastinate (PostgreSQL), for any number of worker
processes on any number of machines (``stockbridge worker``).

The database stays the record of what must run (sync runs, inbox events, schedules); a
procrastinate job only says "do the work recorded for this store now". Three tasks:

* ``stockbridge.run_store(store_id)``: execute every queued (or dead) run of one store, in
  order. Its ``queueing_lock`` is ``store:<id>``, so a flood of triggers for one store
  leaves ONE job waiting (a run requested while it waits is merged into a queued run or
  picked up by it: the job reads the store's runs when it starts); its ``lock`` is the
  same, so no two workers run one store's steps at once. The store lease
  (``sync/lease.py``) still guards every run: the lock is the scheduling rule, the lease
  the correctness guard (it also holds against an embedded ``serve`` or a ``stockbridge
  sync`` on the same database). A run's steps execute inside its job, in order: the
  runner checkpoints after each step, so a retried job resumes at the first step not
  done, and "inventory-out only after this run's orders-in" stays one process's rule.
* ``stockbridge.inbox_pass()``: turn pending inbox events into runs (queueing lock
  ``inbox``: a burst of deliveries leaves one job waiting).
* ``stockbridge.tick(timestamp)``: a procrastinate periodic task (every worker runs the
  periodic deferrer; the database defers each timestamp once, so one tick runs per
  period across every process, and no holder has to be elected or handed over). A tick
  retries the jobs of dead workers, marks dead runs interrupted and resumes them, queues
  the schedule slots that came due (claimed in the same transaction as their run: none
  twice, none lost), nudges stores whose queued runs have no job (a web node that died
  between committing a run and deferring its job), and checks alerts.

Failures: ``run_store`` is retried with back-off (``RETRY``) when it raises (the runner
records partner and hub errors on the run itself, so what raises is the database
being away or the store staying busy); a job whose worker died (no heartbeat for
``stalled_seconds``) is put back by the tick, with back-off; after ``MAX_ATTEMPTS`` the
job ends ``failed`` and the store's unfinished runs are recorded ``failed`` with the
reason, so the run history and the merchant alerts show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Job, Status
from sqlalchemy import select
from sqlalchemy.engine import make_url

from stockbridge.bootstrap import Hub
from stockbridge.db.models import SyncRun
from stockbridge.domain.model import RunStatus
from stockbridge.jobs.inbox import INBOX_BATCH, count_pass, process_inbox

__all__ = [
    "MAX_ATTEMPTS",
    "ProcrastinateQueue",
    "ScaledRuntime",
    "WorkerConfig",
    "conninfo",
    "make_app",
]

log = logging.getLogger(__name__)

RUN_STORE = "stockbridge.run_store"
INBOX_PASS = "stockbridge.inbox_pass"
TICK = "stockbridge.tick"
RUNS_QUEUE = "runs"
INBOX_QUEUE = "inbox"
HOUSEKEEPING_QUEUE = "housekeeping"
QUEUES = (RUNS_QUEUE, INBOX_QUEUE, HOUSEKEEPING_QUEUE)

#: Attempts of one job (the first included) before it ends failed: a job that raises, or
#: whose worker died, is tried this many times in all.
MAX_ATTEMPTS = 5
#: Back-off between attempts: 2, 4, 8, 16 s (procrastinate: exponential_wait ** (n + 1)).
RETRY = RetryStrategy(max_attempts=MAX_ATTEMPTS - 1, exponential_wait=2)
#: Alerts are checked by the ticks of a minute's first seconds (the embedded mode: every
#: 60 s); the alerter itself lets one process at a time do the work.
ALERT_TICK_SECONDS = 5
#: Queued runs older than this without a job get one from the tick (seconds).
NUDGE_AFTER = 30.0


def conninfo(database_url: str) -> str:
    """A libpq connection string for the hub's SQLAlchemy URL (driver suffix dropped)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            "scaled mode needs PostgreSQL: set STOCKBRIDGE_DATABASE_URL=postgresql://..."
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker process runs (``stockbridge worker``; tests shorten the times)."""

    concurrency: int = 4
    queues: tuple[str, ...] = QUEUES
    #: Every worker sends a heartbeat this often; one silent for ``stalled_seconds`` is dead.
    heartbeat_seconds: float = 10.0
    stalled_seconds: float = 30.0
    #: The tick's period (a cron with a seconds field, croniter's 6th column).
    tick_cron: str = "* * * * * */5"
    #: How long a run job waits for its store's lease (held by a run elsewhere).
    wait_seconds: float = 600.0
    #: Check alerts on every tick (the alerter itself lets one process at a time work).
    alerts: bool = True


def make_app(database_url: str, config: WorkerConfig | None = None, **pool: Any) -> App:
    """A procrastinate app for the hub's database with Stockbridge's tasks registered
    (every process registers them: a web node only defers, a worker runs them)."""
    config = config or WorkerConfig()
    app = App(
        connector=PsycopgConnector(conninfo=conninfo(database_url), **pool),
        periodic_defaults={"max_delay": 600},
    )

    @app.task(name=RUN_STORE, queue=RUNS_QUEUE, pass_context=True, retry=RETRY)
    def run_store(context: JobContext, store_id: int) -> None:
        _runtime(context).run_store(store_id, attempt=_attempt(context))

    @app.task(name=INBOX_PASS, queue=INBOX_QUEUE, pass_context=True, retry=RETRY)
    def inbox_pass(context: JobContext) -> None:
        _runtime(context).inbox_pass()

    @app.periodic(cron=config.tick_cron, periodic_id="tick")
    @app.task(
        name=TICK,
        queue=HOUSEKEEPING_QUEUE,
        pass_context=True,
        # No lock: a tick killed mid-way stays "doing" until a later tick retries it, so
        # a lock would block every later tick. Its parts are safe side by side.
        queueing_lock="tick",
    )
    async def tick(context: JobContext, timestamp: int) -> None:
        await _runtime(context).tick(context.app, timestamp)

    del run_store, inbox_pass, tick
    return app


def _runtime(context: JobContext) -> ScaledRuntime:
    runtime = context.additional_context["stockbridge"]
    assert isinstance(runtime, ScaledRuntime)
    return runtime


def _attempt(context: JobContext) -> int:
    """1 for a job's first try."""
    return (context.job.attempts if context.job else 0) + 1


class ProcrastinateQueue:
    """The job port (``jobs.queue.JobQueue``) on procrastinate: submitting defers a job
    (at most one waiting per store, one inbox pass waiting). ``app`` must be open
    (``app.open()``: deferring is synchronous)."""

    def __init__(self, app: App, store_of: Callable[[int], int | None]) -> None:
        self.app = app
        self.store_of = store_of

    def submit_run(self, run_id: int) -> None:
        store_id = self.store_of(run_id)
        if store_id is not None:
            self.submit_store(store_id)

    def submit_store(self, store_id: int) -> bool:
        """Defer the store's job; False when one is already waiting (it will take this
        store's queued runs when it starts)."""
        key = f"store:{store_id}"
        try:
            self.app.configure_task(RUN_STORE, lock=key, queueing_lock=key).defer(store_id=store_id)
        except AlreadyEnqueued:
            return False
        return True

    def submit_inbox(self) -> None:
        with contextlib.suppress(AlreadyEnqueued):
            self.app.configure_task(INBOX_PASS, queueing_lock="inbox").defer()


class ScaledRuntime:
    """What a worker process runs its jobs with: the hub, a runner, the scheduler, the
    alerter, and a second procrastinate app opened synchronously for deferring from the
    job threads."""

    def __init__(self, hub: Hub, config: WorkerConfig | None = None) -> None:
        self.hub = hub
        self.config = config or WorkerConfig()
        self.defer_app = make_app(hub.settings.resolved_database_url, self.config)
        self.queue = ProcrastinateQueue(self.defer_app, self.store_of)
        self.runner = hub.runner()
        self.scheduler = hub.scheduler()
        self._alert_client = hub.outbound_client(timeout=10)
        self.alerter = hub.alerter(self._alert_client)

    def open(self) -> ScaledRuntime:
        self.hub.require_initialised()
        require_job_schema(self.hub)
        self.defer_app.open()
        return self

    def close(self) -> None:
        self.defer_app.close()
        self._alert_client.close()

    def store_of(self, run_id: int) -> int | None:
        with self.hub.uow() as uow:
            run = uow.runs.record(run_id)
            return None if run is None else run.store_id

    # -- the tasks ------------------------------------------------------------------

    def run_store(self, store_id: int, *, attempt: int = 1) -> None:
        """Execute the store's unfinished runs, oldest first, until none is left (a run
        whose process died is replaced by a run of its remaining steps, taken next)."""
        try:
            for _ in range(20):  # bounded: each round finishes or replaces every run
                run_ids = self._unfinished(store_id)
                if not run_ids:
                    return
                for run_id in run_ids:
                    self.runner.execute(run_id, wait_seconds=self.config.wait_seconds)
        except Exception as exc:
            if attempt >= MAX_ATTEMPTS:
                self.give_up(store_id, f"{type(exc).__name__}: {exc}", attempt)
            raise

    def give_up(self, store_id: int, reason: str, attempts: int) -> None:
        """The store's job failed ``attempts`` times: record its queued runs failed, so
        the history and the alerts show it (the job itself ends failed too)."""
        message = f"gave up after {attempts} attempts of its job: {reason}"[:2000]
        with self.hub.uow() as uow:
            for run_id in self._unfinished(store_id, uow=uow, running=False):
                uow.runs.finish(run_id, RunStatus.FAILED, message)
            uow.commit()
        log.error("store %s: %s", store_id, message)

    def inbox_pass(self) -> None:
        while True:
            with self.hub.uow() as uow:
                done = process_inbox(uow, INBOX_BATCH)
                uow.commit()
            count_pass(done)
            for run_id in done.new_run_ids:
                self.queue.submit_run(run_id)
            if done.held_run_ids:  # stock news: the rest of a burst merges meanwhile
                time.sleep(self.hub.settings.webhook_window_seconds)
            for run_id in done.held_run_ids:
                self.queue.submit_run(run_id)
            if done.events < INBOX_BATCH:
                return

    async def tick(self, app: App | None, timestamp: int) -> None:
        if app is not None:
            await self.retry_stalled(app)
        await asyncio.to_thread(self.housekeeping, datetime.fromtimestamp(timestamp, UTC))

    def housekeeping(self, now: datetime) -> None:
        """Dead runs interrupted and resumed, due slots queued, forgotten runs nudged,
        alerts checked; each part on its own, so one failing leaves the others."""
        parts: list[tuple[str, Callable[[], Iterable[int]]]] = [
            ("recover", self.runner.recover),
            ("schedule", lambda: self.scheduler.tick(datetime.now(UTC))),
        ]
        for name, part in parts:
            try:
                for run_id in part():
                    self.queue.submit_run(run_id)
            except Exception:  # one failing part must not stop the others
                log.exception("tick: %s failed", name)
        try:
            self.nudge(datetime.now(UTC) - timedelta(seconds=NUDGE_AFTER))
        except Exception:
            log.exception("tick: nudge failed")
        if self.config.alerts and now.second < ALERT_TICK_SECONDS:  # once a minute or so
            try:
                self.alerter.check(datetime.now(UTC))
            except Exception:
                log.exception("tick: alerts failed")

    def nudge(self, older_than: datetime) -> list[int]:
        """Defer a job for each store with a run queued before ``older_than`` (a web node
        that died after committing a run, before deferring its job); a job already
        waiting makes this a no-op. Returns the stores nudged."""
        with self.hub.uow() as uow:
            stores = list(
                uow.session.scalars(
                    select(SyncRun.store_id)
                    .where(
                        SyncRun.status == RunStatus.QUEUED.value,
                        SyncRun.requested_at < older_than,
                    )
                    .distinct()
                )
            )
        return [store for store in stores if self.queue.submit_store(store)]

    async def retry_stalled(self, app: App) -> int:
        """Jobs left ``doing`` by a worker with no heartbeat for ``stalled_seconds`` are
        tried again after a back-off, or end failed after ``MAX_ATTEMPTS``. Returns how
        many were put back."""
        manager = app.job_manager
        stalled = await manager.get_stalled_jobs(
            seconds_since_heartbeat=self.config.stalled_seconds
        )
        put_back = 0
        for job in stalled:
            attempt = job.attempts + 1
            if attempt >= MAX_ATTEMPTS:
                await self._fail_stalled(app, job, f"its worker died {attempt} times")
                continue
            retry_at = datetime.now(UTC) + timedelta(seconds=min(2**attempt, 60))
            try:
                await manager.retry_job(job, retry_at=retry_at)
            except UniqueViolation:
                # A job with the same queueing lock already waits and takes this work (it
                # reads the store's runs when it starts): this one ends, aborted.
                with contextlib.suppress(ConnectorException):
                    await manager.finish_job(job, Status.ABORTED, delete_job=False)
                log.warning("stalled job %s superseded by a waiting job", job.id)
                continue
            except ConnectorException as exc:
                # Another tick put it back first (it is no longer "doing").
                log.info("stalled job %s not put back: %s", job.id, exc)
                continue
            put_back += 1
            log.warning(
                "job %s (%s) of a dead worker: retry %d at %s",
                job.id,
                job.task_name,
                attempt,
                retry_at.isoformat(),
            )
        await manager.prune_stalled_workers(self.config.stalled_seconds)
        return put_back

    async def _fail_stalled(self, app: App, job: Job, reason: str) -> None:
        await app.job_manager.finish_job(job, Status.FAILED, delete_job=False)
        store_id = job.task_kwargs.get("store_id") if job.task_name == RUN_STORE else None
        if isinstance(store_id, int):
            await asyncio.to_thread(self.give_up, store_id, reason, job.attempts + 1)
        log.error("job %s (%s) failed: %s", job.id, job.task_name, reason)

    # -- helpers --------------------------------------------------------------------

    def _unfinished(self, store_id: int, *, uow: Any = None, running: bool = True) -> list[int]:
        statuses = ("queued", "running") if running else ("queued",)
        query = (
            select(SyncRun.id)
            .where(SyncRun.store_id == store_id, SyncRun.status.in_(statuses))
            .order_by(SyncRun.id)
        )
        if uow is not None:
            return list(uow.session.scalars(query))
        with self.hub.uow() as own:
            return list(own.session.scalars(query))

    def run_worker(
        self,
        *,
        name: str | None = None,
        install_signal_handlers: bool = True,
        started: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        """Run a procrastinate worker in this thread until it is stopped (SIGINT/SIGTERM,
        or the function ``started`` is handed: it finishes the jobs in progress first)."""
        app = make_app(self.hub.settings.resolved_database_url, self.config)

        async def work() -> None:
            async with app.open_async():
                worker = app._worker(
                    queues=list(self.config.queues),
                    concurrency=self.config.concurrency,
                    name=name or "worker",
                    additional_context={"stockbridge": self},
                    delete_jobs="successful",
                    update_heartbeat_interval=self.config.heartbeat_seconds,
                    stalled_worker_timeout=self.config.stalled_seconds,
                    install_signal_handlers=install_signal_handlers,
                )
                if started is not None:
                    loop = asyncio.get_running_loop()

                    def stop() -> None:
                        loop.call_soon_threadsafe(worker.stop)

                    started(stop)
                await worker.run()  # type: ignore[no-untyped-call]

        asyncio.run(work())


def require_job_schema(hub: Hub) -> None:
    """Procrastinate's tables must be there (``stockbridge init`` applies them)."""
    from stockbridge.db.migrate import job_schema_present

    if not job_schema_present(hub.engine):
        from stockbridge.bootstrap import NotInitialised

        raise NotInitialised(
            "the job queue's tables are missing: run `stockbridge init` "
            "(with the scaled extra installed: pip install 'stockbridge[scaled]')"
        )


def open_queue(hub: Hub) -> tuple[ProcrastinateQueue, Callable[[], None]]:
    """The job port for a web node (``serve --no-worker``): it defers jobs, runs none.
    Returns the queue and the function closing it."""
    hub.require_initialised()
    require_job_schema(hub)
    app = make_app(hub.settings.resolved_database_url, min_size=1, max_size=4)
    app.open()

    def store_of(run_id: int) -> int | None:
        with hub.uow() as uow:
            run = uow.runs.record(run_id)
            return None if run is None else run.store_id

    return ProcrastinateQueue(app, store_of), app.close
