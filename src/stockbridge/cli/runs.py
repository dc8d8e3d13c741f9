"""``stockbridge sync``, ``stockbridge runs`` and ``stockbridge status``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from stockbridge.cli.common import (
    HubLoader,
    JsonOption,
    StoreOption,
    fail,
    mapped_errors,
    print_json,
)
from stockbridge.cli.reports import print_plan, print_report, report_json, sync_now
from stockbridge.cli.run_lines import local_time, run_lines
from stockbridge.cli.terminal import Console, echo
from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.domain.wording import STEP_TITLES, mode_title

__all__ = ["StepChoice", "register"]


class StepChoice(StrEnum):
    ALL = "all"
    ORDERS_IN = "orders-in"
    ORDERS_OUT = "orders-out"
    INVENTORY_IN = "inventory-in"
    INVENTORY_OUT = "inventory-out"

    def steps(self) -> tuple[Step, ...]:
        return SYNC_ALL if self is StepChoice.ALL else (Step(self.value),)


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command("sync")
    def sync_command(
        step: Annotated[
            StepChoice,
            typer.Argument(
                help="all (Sync All, the four steps in order), or one step: orders-in, "
                "orders-out, inventory-in (Sync data from the back office) or inventory-out "
                "(Sync data to the web)."
            ),
        ],
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
                        echo(chunk, nl=False)
                    echo("")
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
        zones: dict[str, str] = {}

        def zone_of(name: str) -> str:
            from stockbridge.services.stores import describe_store

            if name not in zones:
                zones[name] = describe_store(hub(), name).timezone
            return zones[name]

        if not history:
            echo("no runs yet")
        for line in run_lines(history, zone_of):
            echo(line)

    @app.command()
    def status(store: StoreOption = None, as_json: JsonOption = False) -> None:
        """Last run of each step, and the last manual sync apart from automatic ones."""
        from stockbridge.services.status import store_status
        from stockbridge.services.stores import describe_store

        with mapped_errors():
            result = store_status(hub(), store)
        if as_json:
            print_json(result)
            return
        if not result:
            echo("no store yet: add one with `stockbridge store add NAME`")
        for entry in result:
            zone = describe_store(hub(), entry.store).timezone

            def at(moment: datetime | None, zone: str = zone) -> str:
                return local_time(moment, zone) if moment else "never"

            echo(f"store {entry.store} ({mode_title(entry.inventory_source)})")
            echo(f"  last manual sync:    {at(entry.last_manual_sync_at)}")
            echo(f"  last automatic sync: {at(entry.last_automatic_sync_at)}")
            for step, last in entry.steps.items():
                text = "never"
                if last is not None:
                    text = f"{last.status} at {at(last.finished_at)} ({last.trigger.value}, "
                    text += f"run {last.run_id})"
                echo(f"  {STEP_TITLES[Step(step)]}: {text}")
            conns = ", ".join(f"{c.role}={c.kind} ({c.health})" for c in entry.connections)
            echo(f"  connections: {conns or 'none'}")
