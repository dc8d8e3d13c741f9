"""``stockbridge serve``: the API, webhook receiver, worker and scheduler in one process.

The service's modules are imported when the command runs, not when the CLI loads."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, fail, mapped_errors
from stockbridge.cli.terminal import echo

__all__ = ["register"]


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
        workers: Annotated[int, typer.Option("--workers", min=1, max=32)] = 2,
        forwarded_allow_ips: Annotated[
            str,
            typer.Option(
                "--forwarded-allow-ips",
                help="Proxies whose X-Forwarded-For/-Proto to believe (comma-separated "
                "addresses or networks); default none.",
            ),
        ] = "",
        no_worker: Annotated[
            bool,
            typer.Option(
                "--no-worker",
                help="Scaled mode (PostgreSQL): serve the API, webhooks and dashboard only; "
                "`stockbridge worker` processes run the jobs and the scheduler.",
            ),
        ] = False,
    ) -> None:
        """Run the API, webhook receiver, worker and scheduler in one process."""
        from stockbridge.logs import configure_logging
        from stockbridge.runtime import Service, serve_http

        configure_logging()
        closers: list[Callable[[], None]] = []
        with mapped_errors():
            loaded = hub()
            queue = None
            if no_worker:
                from stockbridge.cli.worker import scaled_unavailable

                reason = scaled_unavailable(loaded.settings.resolved_database_url)
                if reason:
                    fail(reason)
                from stockbridge.jobs.scaled import open_queue

                queue, close = open_queue(loaded)
                closers.append(close)
            service = Service(loaded, workers=workers, queue=queue).start()
        echo(
            f"Stockbridge serving on http://{host}:{port} (dashboard at /, API at /api/v1, "
            "docs at /docs; dashboard users: stockbridge user add NAME --store STORE)"
        )
        freeze_startup_objects()
        try:
            serve_http(service.app, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips)
        finally:
            service.stop()
            for close in closers:
                close()


def freeze_startup_objects() -> None:
    """Exempt what start-up built (modules, the app, mappers: long-lived) from garbage
    collection: a full collection then scans only what came later, and takes a fraction
    of a millisecond instead of ~100 ms, a pause every request in flight would wait out."""
    gc.collect()
    gc.freeze()
