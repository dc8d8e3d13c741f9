"""A run carried out from the command line: progress bars per step on a terminal, then
its report as a table (or JSON)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from stockbridge.bootstrap import Hub
from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.services.runs import sync
from stockbridge.sync.context import StepOutcome
from stockbridge.sync.runner import RunReport

__all__ = ["RichListener", "print_report", "report_json", "sync_now"]

MAX_ERRORS_SHOWN = 50


class RichListener:
    """Progress bars per step on a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[Step, TaskID] = {}

    def step_started(self, step: Step, total: int | None) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(step.value, total=total)
        else:
            self.progress.update(self.tasks[step], total=total)

    def step_advanced(self, step: Step, done: int, total: int | None) -> None:
        self.progress.update(self.tasks[step], completed=done, total=total)

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        task = self.tasks[step]
        colour = "green" if outcome.status == "succeeded" else "yellow"
        label = f"{step.value} [{colour}]{outcome.status}"
        total = self.progress.tasks[task].total
        self.progress.update(
            task, description=label, completed=total or outcome.done, total=total or outcome.done
        )


def sync_now(
    hub: Hub,
    store: str | None,
    steps: tuple[Step, ...] = SYNC_ALL,
    *,
    console: Console,
    progress: bool,
) -> RunReport:
    """Run ``steps`` now, with progress bars on ``console`` when ``progress``."""
    if not progress:
        return sync(hub, store, steps)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console) as bars:
        return sync(hub, store, steps, listener=RichListener(bars))


def report_json(report: RunReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "status": report.status.value,
        "steps": report.steps,
        "error": report.error,
        "item_errors": [
            {"item": e.key, "message": e.message, "code": e.code} for e in report.errors
        ],
    }


def print_report(console: Console, report: RunReport) -> None:
    table = Table(title=f"Run {report.run_id}: {report.status.value}")
    for column in ("step", "status", "read", "changed", "failed", "note"):
        table.add_column(column)
    for step, entry in report.steps.items():
        table.add_row(
            step,
            str(entry.get("status")),
            str(entry.get("done", 0)),
            str(entry.get("changed", 0)),
            str(entry.get("failed", 0)),
            str(entry.get("message") or ""),
        )
    console.print(table)
    if report.error:
        console.print(f"[red]{report.error}[/red]", highlight=False)
    for error in report.errors[:MAX_ERRORS_SHOWN]:
        code = f" [{error.code}]" if error.code else ""
        console.print(f"  {error.key}: {error.message}{code}", highlight=False, markup=False)
    if len(report.errors) > MAX_ERRORS_SHOWN:
        console.print(
            f"  ... and {len(report.errors) - MAX_ERRORS_SHOWN} more (stockbridge runs --json)"
        )
