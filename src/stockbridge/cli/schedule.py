"""``stockbridge schedule set|show``: when each store syncs by itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from stockbridge.cli.common import HubLoader, JsonOption, mapped_errors, print_json
from stockbridge.cli.terminal import echo

if TYPE_CHECKING:
    from stockbridge.services.schedules import StoreSchedules

__all__ = ["print_schedules", "register"]


def print_schedules(result: StoreSchedules) -> None:
    echo(f"store {result.store} ({result.timezone})")
    zone = ZoneInfo(result.timezone)
    for entry in result.schedules:
        timing = []
        if entry.daily_at:
            timing.append(f"daily at {entry.daily_at}")
        if entry.every_minutes:
            timing.append(f"every {entry.every_minutes} minutes")
        state = "on" if entry.enabled else "off"
        days = ""
        if entry.business_days:
            days = " on business days (Monday-Friday"
            days += f", except {', '.join(entry.holidays)})" if entry.holidays else ")"
        echo(f"  {entry.step}: {' and '.join(timing) or 'no timing'}{days} ({state})")
        for moment in entry.next_runs:
            local = moment.astimezone(zone)
            echo(f"    next: {local:%Y-%m-%d %H:%M} {local.tzname()} ({local:%z})")


def register(app: typer.Typer, hub: HubLoader) -> None:
    schedule_app = typer.Typer(help="When each store syncs by itself.", no_args_is_help=True)
    app.add_typer(schedule_app, name="schedule")

    @schedule_app.command("set")
    def schedule_set(
        name: str,
        daily: Annotated[
            str | None, typer.Option("--daily", help="Daily at HH:MM, store time (24-hour).")
        ] = None,
        every: Annotated[
            int | None, typer.Option("--every", help="Every N minutes (1-1440).")
        ] = None,
        step: Annotated[
            str,
            typer.Option(
                "--step",
                help="all (Sync All), stock (inventory-in then -out), orders-in, orders-out, "
                "inventory-in (Sync data from the back office) or inventory-out (Sync data to "
                "the web).",
            ),
        ] = "all",
        off: Annotated[bool, typer.Option("--off", help="Turn this schedule off.")] = False,
        business_days: Annotated[
            bool,
            typer.Option(
                "--business-days", help="Only Monday to Friday (store time), less --holidays."
            ),
        ] = False,
        holidays: Annotated[
            str | None,
            typer.Option(
                "--holidays", help="Dates skipped on business days: 2026-12-25,2026-12-26,..."
            ),
        ] = None,
    ) -> None:
        """Set when a store syncs by itself. The timing given replaces the old one."""
        from stockbridge.services.schedules import set_schedule

        with mapped_errors():
            result = set_schedule(
                hub(),
                name,
                daily_at=daily,
                every_minutes=every,
                step=step,
                off=off,
                business_days=business_days,
                holidays=holidays,
            )
        print_schedules(result)

    @schedule_app.command("show")
    def schedule_show(name: str, as_json: JsonOption = False) -> None:
        """Show a store's schedules and their next run times in the store's time zone."""
        from stockbridge.services.schedules import show_schedule

        with mapped_errors():
            result = show_schedule(hub(), name)
        if as_json:
            print_json(result)
        else:
            print_schedules(result)
