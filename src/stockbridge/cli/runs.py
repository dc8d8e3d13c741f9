"""``stockbridge sync``, ``stockbridge runs`` and ``stockbridge status``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockbridge.cli.common import (
    HubLoader,
    JsonOption,
    StoreOption,
    fail,
    mapped_errors,
    print_json,
)
from stockbridge.cli.reports import print_plan, print_report, report_json, sync_now
from stockbridge.domain.model import SYNC_ALL, Step

__all__ = ["StepChoice", "register"]


class StepChoice(StrEnum):
    ALL = "all"
    ORDERS_IN = "orders-in"
    ORDERS_OUT = "orders-out"
    INVENTORY_IN = "inventory-in"
    INVENTORY_OUT = "inventory-out"

    def steps(self) -> tuple[Step, ...]:
        return SYNC_ALL if self is StepChoice.ALL else (Step(self.value),)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command("sync")
    def sync_command(
        step: Annotated[StepChoice, typer.Argument(help="all, or one step.")],
        store: StoreOption = None,
        as_json: JsonOption = False,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run",
                help="Preview Sync All: what it would post and push; nothing is written.",
            ),
        ] = False,
    ) -> None:
        """Run Sync All or one step now, and wait for it (or, with --dry-run, preview it)."""
        from stockbridge.services.preview import plan_json_chunks, preview
        from stockbridge.services.runs import exit_code

        if dry_run:
            if step is not StepChoice.ALL:
                fail("--dry-run previews Sync All: use `stockbridge sync all --dry-run`")
            with mapped_errors():
                plan = preview(hub(), store)
            try:
                if as_json:
                    for chunk in plan_json_chunks(plan):
                        typer.echo(chunk, nl=False)
                    typer.echo("")
                else:
                    print_plan(Console(), plan)
            finally:
                plan.close()
            return
        with mapped_errors():
            instance = hub()
            console = Console()
            report = sync_now(
                instance,
                store,
                step.steps(),
                console=console,
                progress=console.is_terminal and not as_json,
            )
        if as_json:
            print_json(report_json(report))
        else:
            print_report(Console(), report)
        raise typer.Exit(exit_code(report))

    @app.command()
    def runs(
        store: StoreOption = None,
        as_json: JsonOption = False,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
    ) -> None:
        """Run history with per-step counts and each item error."""
        from stockbridge.services.runs import run_history

        with mapped_errors():
            history = run_history(hub(), store, limit)
        if as_json:
            print_json(history)
            return
        console = Console()
        table = Table()
        for column in ("run", "store", "trigger", "steps", "status", "finished", "counts"):
            table.add_column(column)
        for run in history:
            counts = "; ".join(
                f"{step} {e.get('changed', 0)} changed {e.get('failed', 0)} failed"
                for step, e in run.progress.items()
            )
            table.add_row(
                str(run.id),
                run.store,
                run.trigger.value,
                ",".join(step.value for step in run.steps),
                run.status.value,
                _iso(run.finished_at) or "",
                counts,
            )
        console.print(table)
        for run in history:
            for error in run.item_errors:
                console.print(
                    f"run {run.id} {error.step} {error.item}: {error.message}",
                    highlight=False,
                    markup=False,
                )

    @app.command()
    def status(store: StoreOption = None, as_json: JsonOption = False) -> None:
        """Last run of each step, and the last manual sync apart from automatic ones."""
        from stockbridge.services.status import store_status

        with mapped_errors():
            result = store_status(hub(), store)
        if as_json:
            print_json(result)
            return
        if not result:
            typer.echo("no store yet: add one with `stockbridge store add NAME`")
        for entry in result:
            typer.echo(f"store {entry.store} ({entry.inventory_source.value})")
            typer.echo(f"  last manual sync:    {_iso(entry.last_manual_sync_at) or 'never'}")
            typer.echo(f"  last automatic sync: {_iso(entry.last_automatic_sync_at) or 'never'}")
            for step, last in entry.steps.items():
                text = "never"
                if last is not None:
                    text = f"{last.status} at {_iso(last.finished_at)} ({last.trigger.value}, "
                    text += f"run {last.run_id})"
                typer.echo(f"  {step:<14} {text}")
            conns = ", ".join(f"{c.role}={c.kind} ({c.health})" for c in entry.connections)
            typer.echo(f"  connections: {conns or 'none'}")
