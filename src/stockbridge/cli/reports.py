"""A run carried out from the command line: progress bars per step on a terminal, then
its report as a table (or JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

if TYPE_CHECKING:
    from stockbridge.bootstrap import Hub
    from stockbridge.sync.context import StepOutcome
    from stockbridge.sync.preview import SyncPlan
    from stockbridge.sync.runner import RunReport
from stockbridge.cli.terminal import Console, Table
from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.domain.runs import changed_nothing
from stockbridge.domain.wording import STEP_TITLES

__all__ = ["RichListener", "print_plan", "print_report", "report_json", "sync_now"]

STEP_IDS = frozenset(step.value for step in Step)

MAX_ERRORS_SHOWN = 50


class RichListener:
    """Progress bars per step on a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[Step, TaskID] = {}

    def step_started(self, step: Step, total: int | None) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(STEP_TITLES[step], total=total)
        else:
            self.progress.update(self.tasks[step], total=total)

    def step_advanced(self, step: Step, done: int, total: int | None) -> None:
        self.progress.update(self.tasks[step], completed=done, total=total)

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        task = self.tasks[step]
        colour = "green" if outcome.status == "succeeded" else "yellow"
        label = f"{STEP_TITLES[step]} [{colour}]{outcome.status}"
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
    from stockbridge.services.runs import sync

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
    for column in ("step", "status", "read", "changed", "written", "failed", "note"):
        table.add_column(column)
    for step, entry in report.steps.items():
        table.add_row(
            STEP_TITLES.get(Step(step), step) if step in STEP_IDS else step,
            str(entry.get("status")),
            str(entry.get("read", entry.get("done", 0))),
            str(entry.get("changed", 0)),
            str(entry.get("written", 0)),
            str(entry.get("failed", 0)),
            str(entry.get("message") or ""),
        )
    console.print(table)
    if changed_nothing(report.steps):
        console.print("This run changed nothing: every item read was as the hub had it.")
    if report.error:
        console.print(f"[red]{report.error}[/red]", highlight=False)
    for error in report.errors[:MAX_ERRORS_SHOWN]:
        code = f" [{error.code}]" if error.code else ""
        console.print(f"  {error.key}: {error.message}{code}", highlight=False, markup=False)
    if len(report.errors) > MAX_ERRORS_SHOWN:
        console.print(
            f"  ... and {len(report.errors) - MAX_ERRORS_SHOWN} more (stockbridge runs --json)"
        )


def print_plan(console: Console, plan: SyncPlan) -> None:
    """A dry run's plan: the orders to post and refuse, the stock changes (the first
    ``MAX_ERRORS_SHOWN``; ``--json`` lists all)."""
    console.print(f"Preview of Sync All for {plan.store} (nothing was written)", highlight=False)
    for step, entry in plan.steps.items():
        note = f": {entry['message']}" if entry.get("message") else ""
        console.print(f"  {step}: {entry['status']}{note}", highlight=False, markup=False)
    orders = Table(title=f"Orders to post: {len(plan.orders_to_post)}")
    for column in ("order", "lines"):
        orders.add_column(column)
    for order in plan.orders_to_post:
        orders.add_row(order.number, ", ".join(f"{s} x{q}" for s, q in order.lines))
    console.print(orders)
    refused = Table(title=f"Orders the back office would refuse: {len(plan.orders_refused)}")
    for column in ("order", "reason"):
        refused.add_column(column)
    for order in plan.orders_refused:
        refused.add_row(order.number, order.refusal or "")
    console.print(refused)
    stock = Table(title=f"Stock changes to push: {plan.stock.count} ({plan.push_calls} calls)")
    for column in ("sku", "location", "web now", "new", "why"):
        stock.add_column(column)
    for n, change in enumerate(plan.stock):
        if n == MAX_ERRORS_SHOWN:
            break
        web_now = "?" if change.web_now is None else str(change.web_now)
        stock.add_row(change.sku, change.location, web_now, str(change.new), change.why)
    console.print(stock)
    if plan.stock.count > MAX_ERRORS_SHOWN:
        console.print(f"  ... and {plan.stock.count - MAX_ERRORS_SHOWN} more (--json lists all)")
    console.print(
        f"Products to create: {len(plan.products_to_create)}; "
        f"prices to change: {len(plan.price_changes)}",
        highlight=False,
    )
    for error in plan.errors[:MAX_ERRORS_SHOWN]:
        code = f" [{error.code}]" if error.code else ""
        console.print(f"  {error.key}: {error.message}{code}", highlight=False, markup=False)
