"""``stockbridge demo``: Stockbridge with both partner sandboxes, seeded like a shop.

The demo and its sandboxes are imported when the command runs, never when the CLI loads."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, mapped_errors
from stockbridge.cli.reports import print_report, sync_now
from stockbridge.cli.terminal import Console
from stockbridge.domain.model import RunStatus

__all__ = ["register"]


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command()
    def demo(
        once: Annotated[
            bool, typer.Option("--once", help="Run one Sync All headless, print a summary, exit.")
        ] = False,
        host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    ) -> None:
        """Stockbridge with sandbox BigCommerce and QuickBooks Online, seeded like a shop."""
        from stockbridge.demo import DEMO_STORE, GHOST_SKU, start_demo
        from stockbridge.runtime import Service, serve_http
        from stockbridge.services.runs import RequestSync, request_sync
        from stockbridge.services.tokens import create_token

        console = Console()
        settings = hub(initialised=False).settings
        with mapped_errors():
            demo = start_demo(settings, webhook_base_url=None if once else f"http://{host}:{port}")
        console.print(
            f"Sandboxes up: BigCommerce {demo.bigcommerce.url}, QuickBooks Online {demo.qbo.url}; "
            f"{demo.variants:,} variants, {demo.orders} web orders; SKU {GHOST_SKU} is missing "
            "in QuickBooks on purpose.",
            highlight=False,
        )
        try:
            if once:
                report = sync_now(
                    demo.hub, DEMO_STORE, console=console, progress=console.is_terminal
                )
                print_report(console, report)
                raise typer.Exit(1 if report.status is RunStatus.FAILED else 0)
            service = Service(demo.hub).start()
            run_id = request_sync(demo.hub, RequestSync(DEMO_STORE)).run_id
            service.queue.submit_run(run_id)
            token = create_token(demo.hub, None, operator=True)
            console.print(
                f"Stockbridge demo on http://{host}:{port} — API docs at /docs, metrics at "
                f"/metrics. A first Sync All is running (run {run_id}).\n"
                f"Dashboard: http://{host}:{port}/login  user: {demo.user}  "
                f"password: {demo.password}\n"
                f"API token (operator): {token}\n"
                f"Try: curl -H 'Authorization: Bearer {token}' "
                f"http://{host}:{port}/api/v1/stores/{DEMO_STORE}/runs",
                highlight=False,
            )
            try:
                serve_http(service.app, host=host, port=port)
            finally:
                service.stop()
        finally:
            demo.stop()
