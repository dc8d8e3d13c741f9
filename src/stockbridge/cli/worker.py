"""``stockbridge worker``: a scaled-mode worker process (procrastinate on PostgreSQL).

Run any number of them, on any number of machines, beside ``stockbridge serve
--no-worker`` web nodes; see docs/deploy.md. procrastinate is imported when the command
runs (the ``scaled`` extra), never when the CLI loads."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, fail, mapped_errors
from stockbridge.cli.terminal import echo

__all__ = ["register", "scaled_unavailable"]


def scaled_unavailable(database_url: str) -> str | None:
    """Why scaled mode cannot run here (None: it can)."""
    if not database_url.startswith(("postgresql", "postgres")):
        return (
            "scaled mode needs PostgreSQL: set STOCKBRIDGE_DATABASE_URL=postgresql://... "
            "(the embedded mode is `stockbridge serve`)"
        )
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        return "scaled mode needs its extra: pip install 'stockbridge[scaled]'"
    return None


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command()
    def worker(
        concurrency: Annotated[
            int,
            typer.Option("--concurrency", min=1, max=32, help="Jobs this process runs at once."),
        ] = 4,
        queues: Annotated[
            str,
            typer.Option(
                "--queues",
                help="Comma-separated queues to take jobs from: runs, inbox, housekeeping "
                "(default all).",
            ),
        ] = "runs,inbox,housekeeping",
        name: Annotated[str | None, typer.Option("--name", help="Worker name in logs.")] = None,
        metrics_port: Annotated[
            int | None,
            typer.Option(
                "--metrics-port",
                min=1,
                max=65535,
                help="Serve this process's counters (partner calls and 429s, runs finished) "
                "for Prometheus on 127.0.0.1:PORT/metrics (--metrics-host to change).",
            ),
        ] = None,
        metrics_host: Annotated[str, typer.Option("--metrics-host")] = "127.0.0.1",
    ) -> None:
        """Run scaled-mode jobs (sync runs, inbox passes, the scheduler tick) from the
        PostgreSQL job queue until stopped (SIGTERM finishes the jobs in progress)."""
        from stockbridge.logs import configure_logging

        wanted = tuple(q.strip() for q in queues.split(",") if q.strip())
        with mapped_errors():
            loaded = hub()
        reason = scaled_unavailable(loaded.settings.resolved_database_url)
        if reason:
            fail(reason)
        from stockbridge.jobs.scaled import QUEUES, ScaledRuntime, WorkerConfig

        unknown = sorted(set(wanted) - set(QUEUES))
        if unknown or not wanted:
            fail(
                f"unknown queue(s): {', '.join(unknown) or '(none given)'}; known: "
                f"{', '.join(QUEUES)}"
            )
        settings = loaded.settings
        config = WorkerConfig(
            concurrency=concurrency,
            queues=wanted,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            stalled_seconds=settings.worker_stalled_seconds,
            tick_cron=settings.scheduler_cron,
        )
        configure_logging()
        with mapped_errors():
            runtime = ScaledRuntime(loaded, config).open()
        if metrics_port is not None:
            from prometheus_client import start_http_server

            from stockbridge.metrics import REGISTRY

            start_http_server(metrics_port, addr=metrics_host, registry=REGISTRY)
        echo(f"Stockbridge worker: queues {', '.join(wanted)}, concurrency {concurrency}")
        try:
            runtime.run_worker(name=name)
        finally:
            runtime.close()
