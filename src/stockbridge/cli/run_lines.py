"""``stockbridge runs`` as text: one block per run that reads at 80 columns, times in the
store's time zone to the second (as the dashboard shows them), steps in the merchant's
words, item errors under their run."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from stockbridge.domain.model import SYNC_ALL, Step
from stockbridge.domain.wording import STEP_TITLES

if TYPE_CHECKING:
    from stockbridge.services.runs import RunSummary

__all__ = ["WIDTH", "local_time", "run_lines"]

WIDTH = 80


def local_time(moment: datetime | None, zone: str) -> str:
    """``2026-12-07 19:04:05 CST``: the store's time, no microseconds; "-" for none."""
    if moment is None:
        return "-"
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def _steps(steps: tuple[Step, ...]) -> str:
    if steps == SYNC_ALL:
        return "Sync All"
    return ", ".join(STEP_TITLES.get(s, s.value) for s in steps)


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )


def run_lines(runs: Iterable[RunSummary], zone_of: Callable[[str], str]) -> Iterator[str]:
    """The lines of each run: a heading, a line per step with its counts, its errors."""
    for run in runs:
        zone = zone_of(run.store) if run.store else "UTC"
        moment = run.finished_at or run.started_at
        yield from _wrapped(
            f"run {run.id} · {run.store} · {_steps(run.steps)} · {run.trigger.value} · "
            f"{run.status.value} · {local_time(moment, zone)}",
            "",
        )
        for step, entry in run.progress.items():
            title = STEP_TITLES.get(Step(step), step) if step in Step._value2member_map_ else step
            counts = (
                f"{entry.get('done', 0)} read, {entry.get('changed', 0)} changed, "
                f"{entry.get('failed', 0)} failed"
            )
            yield from _wrapped(f"{title}: {counts} ({entry.get('status', '?')})", "  ")
        for error in run.item_errors:
            yield from _wrapped(f"{error.item}: {error.message}", "    ! ")
