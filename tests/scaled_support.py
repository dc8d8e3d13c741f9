"""Scaled mode in tests: a procrastinate worker (in a thread of the test process, or as
real ``stockbridge worker`` processes) on a PostgreSQL hub."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from stockbridge.bootstrap import Hub
from stockbridge.jobs.scaled import ScaledRuntime, WorkerConfig

#: Short times so a dead worker is noticed in seconds (production: 10 s and 30 s).
FAST = WorkerConfig(
    concurrency=2,
    heartbeat_seconds=0.5,
    stalled_seconds=2.0,
    tick_cron="* * * * * *",
    wait_seconds=30.0,
    alerts=False,
)


@contextmanager
def scaled_worker(hub: Hub, config: WorkerConfig = FAST) -> Iterator[ScaledRuntime]:
    """A procrastinate worker running ``hub``'s jobs in a thread (so in-memory partners
    of a test harness work); stopped, its jobs finished, on exit."""
    runtime = ScaledRuntime(hub, config).open()
    stoppers: list[Callable[[], None]] = []
    ready = threading.Event()

    def started(stop: Callable[[], None]) -> None:
        stoppers.append(stop)
        ready.set()

    thread = threading.Thread(
        target=runtime.run_worker,
        kwargs={"install_signal_handlers": False, "started": started, "name": "test-worker"},
        name="procrastinate-worker",
        daemon=True,
    )
    thread.start()
    if not ready.wait(20):
        raise AssertionError("the procrastinate worker did not start")
    try:
        yield runtime
    finally:
        stoppers[0]()
        thread.join(20)
        runtime.close()
