"""``stockbridge token create``: API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, StoreOption, mapped_errors
from stockbridge.services.tokens import create_token

__all__ = ["register"]


def register(app: typer.Typer, hub: HubLoader) -> None:
    token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
    app.add_typer(token_app, name="token")

    @token_app.command("create")
    def token_create(
        store: StoreOption = None,
        operator: Annotated[
            bool, typer.Option("--operator", help="A token for every store (operators).")
        ] = False,
    ) -> None:
        """Print a new API token on the last line. It is shown once; only a hash is kept."""
        with mapped_errors():
            token = create_token(hub(), store, operator=operator)
        scope = "every store" if operator else f"store {store!r}"
        typer.echo(f"API token for {scope} (shown once; use 'Authorization: Bearer <token>'):")
        typer.echo(token)
