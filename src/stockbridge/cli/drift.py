"""``stockbridge drift``: where the web store's stock is not what the hub means it to be,
and ``--repair`` to push exactly those SKUs (a run of its own)."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, JsonOption, StoreOption, mapped_errors, print_json
from stockbridge.cli.reports import print_report
from stockbridge.cli.terminal import Console, Table

__all__ = ["register"]

SHOWN = 100


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command()
    def drift(
        store: StoreOption = None,
        as_json: JsonOption = False,
        repair: Annotated[
            bool,
            typer.Option(
                "--repair",
                help="Push exactly the drifted SKUs now (a repair run; waits for a run "
                "holding the store).",
            ),
        ] = False,
    ) -> None:
        """Drift: SKUs whose web stock differs from what it should be (or from what the
        hub last sent), and SKUs on one side only. Reads the web store's catalog."""
        from stockbridge.services.drift import drift_json, drift_report, request_repair
        from stockbridge.services.runs import exit_code

        with mapped_errors():
            instance = hub()
            if repair:
                requested = request_repair(instance, store)
                report = instance.runner().execute(requested.run_id)
            else:
                found = drift_report(instance, store)
        if repair:
            if as_json:
                print_json(
                    {"run_id": report.run_id, "status": report.status.value, "steps": report.steps}
                )
            else:
                print_report(Console(), report)
            raise typer.Exit(exit_code(report))
        if as_json:
            print_json(drift_json(found))
            return
        console = Console()
        counts = ", ".join(f"{kind} {n}" for kind, n in found.counts.items())
        console.print(
            f"Drift of {found.store}: {found.total} ({counts}); {found.compared} stock rows "
            f"compared with {found.web_variants} web variants",
            highlight=False,
        )
        if found.warning:
            console.print(f"[yellow]{found.warning}[/yellow]", highlight=False)
        if not found.entries:
            return
        table = Table()
        for column in ("sku", "location", "kind", "web", "last sent", "should"):
            table.add_column(column)
        for entry in found.entries[:SHOWN]:
            table.add_row(
                entry.sku,
                entry.location,
                entry.kind,
                "" if entry.web is None else str(entry.web),
                "" if entry.last_sent is None else str(entry.last_sent),
                "" if entry.should is None else str(entry.should),
            )
        console.print(table)
        if found.total > SHOWN:
            console.print(f"... and {found.total - SHOWN} more (--json lists them)")
