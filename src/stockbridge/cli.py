"""The ``stockbridge`` command line. Commands parse input, call a use case in
``services`` and map its errors to a one-line message and an exit code:
0 success, 1 a run with item errors or a failed run, 2 usage errors and unknown stores.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from stockbridge import services
from stockbridge.bootstrap import Hub, NotInitialised, bootstrap
from stockbridge.connectors.feed import cli as feed_cli
from stockbridge.connectors.qbo import cli as qbo_cli
from stockbridge.credentials import CredentialsUnreadable
from stockbridge.domain.model import SYNC_ALL, InventorySource, RunStatus, Step, Trigger
from stockbridge.sync.context import StepOutcome
from stockbridge.sync.runner import RunReport, RunTimeout

__all__ = ["PartnerCommands", "build_app", "fail", "main"]

USAGE = 2


@dataclass(frozen=True)
class PartnerCommands:
    """What a partner package gets to add its ``connect`` and ``sandbox`` commands."""

    connect: typer.Typer
    sandbox: typer.Typer
    hub: Callable[[], Hub]
    errors: Callable[[], AbstractContextManager[None]]


#: Each partner package's ``register(commands)``; see ``connectors/*/cli.py``.
PARTNER_COMMANDS: list[Callable[[PartnerCommands], None]] = [
    qbo_cli.register,
    feed_cli.register,
]


class StepChoice(StrEnum):
    ALL = "all"
    ORDERS_IN = "orders-in"
    ORDERS_OUT = "orders-out"
    INVENTORY_IN = "inventory-in"
    INVENTORY_OUT = "inventory-out"

    def steps(self) -> tuple[Step, ...]:
        return SYNC_ALL if self is StepChoice.ALL else (Step(self.value),)


class OnOff(StrEnum):
    ON = "on"
    OFF = "off"


StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store name; optional when only one exists.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TimezoneOption = Annotated[
    str | None, typer.Option("--timezone", help="IANA time zone, e.g. America/Chicago.")
]
SourceOption = Annotated[
    InventorySource | None,
    typer.Option("--inventory-source", help="Which system's stock the web store shows."),
]
ErpOption = Annotated[
    str | None, typer.Option("--erp-name", help="The ERP's name, for reference only.")
]

err = Console(stderr=True)


def fail(message: str, code: int = USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except (services.StoreNotFound, services.InvalidSetting, services.DuplicateStore) as exc:
        fail(str(exc))
    except NotInitialised as exc:
        fail(str(exc))
    except CredentialsUnreadable as exc:
        fail(str(exc), 1)
    except RunTimeout as exc:
        fail(str(exc), 1)
    except services.ConnectFailed as exc:
        fail(str(exc), 1)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


class _RichListener:
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


def _report_dict(report: RunReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "status": report.status.value,
        "steps": report.steps,
        "error": report.error,
        "item_errors": [
            {"item": e.key, "message": e.message, "code": e.code} for e in report.errors
        ],
    }


def _print_report(console: Console, report: RunReport) -> None:
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
    for error in report.errors[:50]:
        code = f" [{error.code}]" if error.code else ""
        console.print(f"  {error.key}: {error.message}{code}", highlight=False, markup=False)
    if len(report.errors) > 50:
        console.print(f"  ... and {len(report.errors) - 50} more (stockbridge runs --json)")


def _print_schedules(result: dict[str, Any]) -> None:
    typer.echo(f"store {result['store']} ({result['timezone']})")
    zone = ZoneInfo(result["timezone"])
    for entry in result["schedules"]:
        timing = []
        if entry["daily_at"]:
            timing.append(f"daily at {entry['daily_at']}")
        if entry["every_minutes"]:
            timing.append(f"every {entry['every_minutes']} minutes")
        state = "on" if entry["enabled"] else "off"
        typer.echo(f"  {entry['step']}: {' and '.join(timing) or 'no timing'} ({state})")
        for moment in entry["next_runs"]:
            local = datetime.fromisoformat(moment).astimezone(zone)
            typer.echo(f"    next: {local:%Y-%m-%d %H:%M} {local.tzname()} ({local:%z})")


def build_app(make_hub: Callable[[], Hub]) -> typer.Typer:
    app = typer.Typer(
        name="stockbridge",
        help="Keep an online store and its back office in step.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    store_app = typer.Typer(help="Add, list, show and change stores.", no_args_is_help=True)
    app.add_typer(store_app, name="store")
    connect_app = typer.Typer(help="Connect a store to a partner.", no_args_is_help=True)
    app.add_typer(connect_app, name="connect")
    sandbox_app = typer.Typer(
        help="Run a partner's sandbox (its simulator) on loopback.", no_args_is_help=True
    )
    app.add_typer(sandbox_app, name="sandbox")
    schedule_app = typer.Typer(help="When each store syncs by itself.", no_args_is_help=True)
    app.add_typer(schedule_app, name="schedule")

    def hub(initialised: bool = True) -> Hub:
        instance = make_hub()
        if initialised:
            instance.require_initialised()
        return instance

    @app.command()
    def init() -> None:
        """Create (or upgrade) the hub database and the credentials key."""
        with _mapped_errors():
            instance = hub(initialised=False)
            instance.initialise()
            typer.echo(f"hub ready: {instance.engine.url.render_as_string(hide_password=True)}")

    @store_app.command("add")
    def store_add(
        name: str,
        timezone: TimezoneOption = None,
        inventory_source: SourceOption = None,
        erp_name: ErpOption = None,
    ) -> None:
        """Add a store."""
        with _mapped_errors():
            store = services.add_store(
                hub(),
                name,
                timezone=timezone or "UTC",
                inventory_source=inventory_source or InventorySource.BACK_OFFICE,
                erp_name=erp_name,
            )
            typer.echo(f"store {store['name']!r} added")

    @store_app.command("list")
    def store_list(as_json: JsonOption = False) -> None:
        """List stores."""
        with _mapped_errors():
            stores = services.list_stores(hub())
        if as_json:
            _print_json(stores)
            return
        table = Table()
        for column in ("name", "timezone", "inventory source", "ERP", "connections"):
            table.add_column(column)
        for s in stores:
            conns = ", ".join(f"{c['role']}={c['kind']} ({c['health']})" for c in s["connections"])
            table.add_row(
                s["name"],
                s["timezone"],
                s["inventory_source"],
                s["erp_name"] or "",
                conns or "none",
            )
        Console().print(table)

    @store_app.command("show")
    def store_show(name: str, as_json: JsonOption = False) -> None:
        """Show every setting of a store."""
        with _mapped_errors():
            store = services.describe_store(hub(), name)
        if as_json:
            _print_json(store)
            return
        for key, value in store.items():
            if key == "connections":
                value = (
                    ", ".join(f"{c['role']}={c['kind']} ({c['health']})" for c in value) or "none"
                )
            elif key == "erp_name" and value:
                value = f"{value} (for reference; does not change how data syncs)"
            typer.echo(f"{key}: {'' if value is None else value}")

    @store_app.command("set")
    def store_set(
        name: str,
        timezone: TimezoneOption = None,
        inventory_source: SourceOption = None,
        erp_name: ErpOption = None,
        sync_all_button: Annotated[
            OnOff | None, typer.Option("--sync-all-button", help="Show the Sync All button.")
        ] = None,
        alert_email: Annotated[
            str | None,
            typer.Option("--alert-email", help='Send alerts to this address ("" to stop).'),
        ] = None,
        alert_webhook: Annotated[
            str | None,
            typer.Option(
                "--alert-webhook", help='POST alerts to this URL, e.g. a chat webhook ("" to stop).'
            ),
        ] = None,
        stale_after_hours: Annotated[
            int | None,
            typer.Option(
                "--stale-after-hours", help="Alert when no sync succeeded for this long (24)."
            ),
        ] = None,
    ) -> None:
        """Change a store's settings."""
        with _mapped_errors():
            services.update_store(
                hub(),
                name,
                timezone=timezone,
                inventory_source=inventory_source,
                erp_name=erp_name,
                sync_all_button=None if sync_all_button is None else sync_all_button is OnOff.ON,
                alert_email=alert_email,
                alert_webhook_url=alert_webhook,
                stale_after_hours=stale_after_hours,
            )
            typer.echo(f"store {name!r} updated")

    @app.command("sync")
    def sync_command(
        step: Annotated[StepChoice, typer.Argument(help="all, or one step.")],
        store: StoreOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Run Sync All or one step now, and wait for it."""
        with _mapped_errors():
            instance = hub()
            console = Console()
            if console.is_terminal and not as_json:
                columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
                with Progress(*columns, console=console) as progress:
                    report = services.sync(
                        instance, store, step.steps(), listener=_RichListener(progress)
                    )
            else:
                report = services.sync(instance, store, step.steps())
        if as_json:
            _print_json(_report_dict(report))
        else:
            _print_report(Console(), report)
        raise typer.Exit(services.exit_code(report))

    @app.command()
    def runs(
        store: StoreOption = None,
        as_json: JsonOption = False,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
    ) -> None:
        """Run history with per-step counts and each item error."""
        with _mapped_errors():
            history = services.run_history(hub(), store, limit)
        if as_json:
            _print_json(history)
            return
        console = Console()
        table = Table()
        for column in ("run", "store", "trigger", "steps", "status", "finished", "counts"):
            table.add_column(column)
        for run in history:
            counts = "; ".join(
                f"{step} {e.get('changed', 0)} changed {e.get('failed', 0)} failed"
                for step, e in run["progress"].items()
            )
            table.add_row(
                str(run["id"]),
                run["store"],
                run["trigger"],
                ",".join(run["steps"]),
                run["status"],
                run["finished_at"] or "",
                counts,
            )
        console.print(table)
        for run in history:
            for error in run["item_errors"]:
                console.print(
                    f"run {run['id']} {error['step']} {error['item']}: {error['message']}",
                    highlight=False,
                    markup=False,
                )

    @app.command()
    def status(store: StoreOption = None, as_json: JsonOption = False) -> None:
        """Last run of each step, and the last manual sync apart from automatic ones."""
        with _mapped_errors():
            result = services.store_status(hub(), store)
        if as_json:
            _print_json(result)
            return
        if not result:
            typer.echo("no store yet: add one with `stockbridge store add NAME`")
        for entry in result:
            typer.echo(f"store {entry['store']} ({entry['inventory_source']})")
            typer.echo(f"  last manual sync:    {entry['last_manual_sync_at'] or 'never'}")
            typer.echo(f"  last automatic sync: {entry['last_automatic_sync_at'] or 'never'}")
            for step, last in entry["steps"].items():
                text = "never"
                if last is not None:
                    text = f"{last['status']} at {last['finished_at']} ({last['trigger']}, "
                    text += f"run {last['run_id']})"
                typer.echo(f"  {step:<14} {text}")
            conns = ", ".join(
                f"{c['role']}={c['kind']} ({c['health']})" for c in entry["connections"]
            )
            typer.echo(f"  connections: {conns or 'none'}")

    user_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
    app.add_typer(user_app, name="user")

    @user_app.command("add")
    def user_add(
        name: str,
        stores: Annotated[
            list[str] | None,
            typer.Option(
                "--store",
                help="A store the user may see and change (repeat for several).",
                show_default=False,
            ),
        ] = None,
        operator: Annotated[
            bool, typer.Option("--operator", help="A user who sees every store (operators).")
        ] = False,
        password_stdin: Annotated[
            bool,
            typer.Option(
                "--password-stdin", help="Read the password from standard input (for scripts)."
            ),
        ] = False,
    ) -> None:
        """Add a dashboard user who sees the --store stores (or every store with
        --operator); asks for the password (only an Argon2 hash is kept)."""
        from stockbridge import accounts

        if operator == bool(stores):
            fail("give the stores the user may see (--store NAME, repeatable) or --operator")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        with _mapped_errors():
            try:
                accounts.add_user(hub(), name, password, stores=stores or (), operator=operator)
            except accounts.InvalidAccount as exc:
                fail(str(exc))
        scope = "every store" if operator else ", ".join(sorted(set(stores or ())))
        typer.echo(
            f"user {name!r} added, sees {scope}: log in at the dashboard "
            "(stockbridge serve, /login)"
        )

    @user_app.command("set")
    def user_set(
        name: str,
        stores: Annotated[
            list[str] | None,
            typer.Option(
                "--store",
                help="The stores the user may see from now on (repeat; replaces the old ones).",
                show_default=False,
            ),
        ] = None,
        operator: Annotated[
            bool, typer.Option("--operator", help="Let the user see every store.")
        ] = False,
        new_password: Annotated[
            bool,
            typer.Option("--password", help="Ask for a new password (ends their sessions)."),
        ] = False,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
        ] = False,
    ) -> None:
        """Change what a user sees and/or their password."""
        from stockbridge import accounts

        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif new_password:
            password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
        with _mapped_errors():
            try:
                user = accounts.change_user(
                    hub(), name, stores=stores, operator=operator, password=password
                )
            except accounts.InvalidAccount as exc:
                fail(str(exc))
        scope = "every store" if user.operator else ", ".join(user.stores) or "no store"
        note = "; password changed, sessions ended" if password is not None else ""
        typer.echo(f"user {name!r} sees {scope}{note}")

    @user_app.command("remove")
    def user_remove(name: str) -> None:
        """Remove a dashboard user; their sessions end at once."""
        from stockbridge import accounts

        with _mapped_errors():
            try:
                accounts.remove_user(hub(), name)
            except accounts.InvalidAccount as exc:
                fail(str(exc))
        typer.echo(f"user {name!r} removed")

    @user_app.command("list")
    def user_list(as_json: JsonOption = False) -> None:
        """List dashboard users, the stores each sees, and their open sessions."""
        from stockbridge import accounts

        with _mapped_errors():
            users = accounts.list_users(hub())
        if as_json:
            _print_json(
                [
                    {"name": u.name, "operator": u.operator, "stores": list(u.stores),
                     "sessions": u.sessions}
                    for u in users
                ]
            )  # fmt: skip
            return
        table = Table()
        for column in ("user", "sees", "sessions"):
            table.add_column(column)
        for u in users:
            table.add_row(
                u.name, "every store" if u.operator else ", ".join(u.stores), str(u.sessions)
            )
        Console().print(table)

    token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
    app.add_typer(token_app, name="token")

    @token_app.command("create")
    def token_create(
        store: StoreOption = None,
        operator: Annotated[
            bool, typer.Option("--operator", help="A token for every store (operators).")
        ] = False,
        expires_in: Annotated[
            int | None,
            typer.Option("--expires-in", help="Days until the token stops working (1-3650)."),
        ] = None,
    ) -> None:
        """Print a new API token on the last line. It is shown once; only a hash is kept."""
        with _mapped_errors():
            token = services.create_token(
                hub(), store, operator=operator, expires_in_days=expires_in
            )
        scope = "every store" if operator else f"store {store!r}"
        until = f", for {expires_in} days" if expires_in else ""
        typer.echo(
            f"API token for {scope}{until} (shown once; use 'Authorization: Bearer <token>'):"
        )
        typer.echo(token)

    @token_app.command("list")
    def token_list(as_json: JsonOption = False) -> None:
        """Every API token (never the secret): id, store, state, dates."""
        with _mapped_errors():
            tokens = services.list_tokens(hub())
        if as_json:
            _print_json(tokens)
            return
        table = Table()
        for column in ("id", "store", "state", "created", "last used", "expires"):
            table.add_column(column)
        for t in tokens:
            table.add_row(
                str(t["id"]),
                t["store"] or "every store",
                t["state"],
                *(t[k] or "-" for k in ("created_at", "last_used_at", "expires_at")),
            )
        Console().print(table)

    @token_app.command("revoke")
    def token_revoke(token_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)]) -> None:
        """Revoke a token (by its id in `token list`): refused from its next request on."""
        with _mapped_errors():
            services.revoke_token(hub(), token_id)
        typer.echo(f"API token {token_id} revoked.")

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

        console = Console()
        settings = make_hub().settings
        with _mapped_errors():
            demo = start_demo(settings, webhook_base_url=None if once else f"http://{host}:{port}")
        console.print(
            f"Sandboxes up: BigCommerce {demo.bigcommerce.url}, QuickBooks Online {demo.qbo.url}; "
            f"{demo.variants:,} variants, {demo.orders} web orders; SKU {GHOST_SKU} is missing "
            "in QuickBooks on purpose.",
            highlight=False,
        )
        try:
            if once:
                if console.is_terminal:
                    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
                    with Progress(*columns, console=console) as progress:
                        report = services.sync(
                            demo.hub, DEMO_STORE, listener=_RichListener(progress)
                        )
                else:
                    report = services.sync(demo.hub, DEMO_STORE)
                _print_report(console, report)
                raise typer.Exit(1 if report.status is RunStatus.FAILED else 0)
            service = Service(demo.hub).start()
            run_id, _ = demo.hub.runner().request(
                services.resolve_store(demo.hub, DEMO_STORE), SYNC_ALL, Trigger.MANUAL
            )
            service.queue.submit_run(run_id)
            token = services.create_token(demo.hub, None, operator=True)
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
    ) -> None:
        """Run the API, webhook receiver, worker and scheduler in one process."""
        from stockbridge.logs import configure_logging
        from stockbridge.runtime import Service, serve_http

        configure_logging()
        with _mapped_errors():
            service = Service(hub(), workers=workers).start()
        typer.echo(
            f"Stockbridge serving on http://{host}:{port} (dashboard at /, API at /api/v1, "
            "docs at /docs; dashboard users: stockbridge user add NAME --store STORE)"
        )
        _freeze_startup_objects()
        try:
            serve_http(service.app, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips)
        finally:
            service.stop()

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
                "inventory-in or inventory-out.",
            ),
        ] = "all",
        off: Annotated[bool, typer.Option("--off", help="Turn this schedule off.")] = False,
    ) -> None:
        """Set when a store syncs by itself. The timing given replaces the old one."""
        with _mapped_errors():
            result = services.set_schedule(
                hub(), name, daily_at=daily, every_minutes=every, step=step, off=off
            )
        _print_schedules(result)

    @schedule_app.command("show")
    def schedule_show(name: str, as_json: JsonOption = False) -> None:
        """Show a store's schedules and their next run times in the store's time zone."""
        with _mapped_errors():
            result = services.show_schedule(hub(), name)
        if as_json:
            _print_json(result)
        else:
            _print_schedules(result)

    for register in _partner_commands():
        register(PartnerCommands(connect_app, sandbox_app, hub, _mapped_errors))
    return app


def _freeze_startup_objects() -> None:
    """Exempt what start-up built (modules, the app, mappers: long-lived) from garbage
    collection: a full collection then scans only what came later, and takes a fraction
    of a millisecond instead of ~100 ms, a pause every request in flight would wait out."""
    import gc

    gc.collect()
    gc.freeze()


def _partner_commands() -> list[Callable[[PartnerCommands], None]]:
    """The partner packages' command registrations (imported here: they import this
    module for ``PartnerCommands``)."""
    from stockbridge.connectors.bigcommerce import cli as bigcommerce_cli

    return [bigcommerce_cli.register, *PARTNER_COMMANDS]


def main() -> None:
    app = build_app(bootstrap)
    sys.exit(app())


if __name__ == "__main__":
    main()
