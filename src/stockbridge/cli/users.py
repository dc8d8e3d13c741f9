"""``stockbridge user add|set|remove|list``: dashboard users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, JsonOption, fail, mapped_errors, print_json
from stockbridge.cli.terminal import Console, Table, echo

__all__ = ["register"]


def register(app: typer.Typer, hub: HubLoader) -> None:
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
        with mapped_errors():
            try:
                accounts.add_user(hub(), name, password, stores=stores or (), operator=operator)
            except accounts.InvalidAccount as exc:
                fail(str(exc))
        scope = "every store" if operator else ", ".join(sorted(set(stores or ())))
        echo(
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
        with mapped_errors():
            try:
                user = accounts.change_user(
                    hub(), name, stores=stores, operator=operator, password=password
                )
            except accounts.InvalidAccount as exc:
                fail(str(exc))
        scope = "every store" if user.operator else ", ".join(user.stores) or "no store"
        note = "; password changed, sessions ended" if password is not None else ""
        echo(f"user {name!r} sees {scope}{note}")

    @user_app.command("remove")
    def user_remove(name: str) -> None:
        """Remove a dashboard user; their sessions end at once."""
        from stockbridge import accounts

        with mapped_errors():
            try:
                accounts.remove_user(hub(), name)
            except accounts.InvalidAccount as exc:
                fail(str(exc))
        echo(f"user {name!r} removed")

    @user_app.command("list")
    def user_list(as_json: JsonOption = False) -> None:
        """List dashboard users, the stores each sees, and their open sessions."""
        from stockbridge import accounts

        with mapped_errors():
            users = accounts.list_users(hub())
        if as_json:
            print_json(
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
