"""``stockbridge token create | list | revoke``: API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import HubLoader, JsonOption, StoreOption, mapped_errors, print_json
from stockbridge.cli.terminal import Console, Table, echo
from stockbridge.services.token_limits import MAX_TOKEN_DAYS

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
        expires_in: Annotated[
            int | None,
            typer.Option(
                "--expires-in", help=f"Days until the token stops working (1-{MAX_TOKEN_DAYS})."
            ),
        ] = None,
    ) -> None:
        """Print a new API token on the last line. It is shown once; only a hash is kept."""
        from stockbridge.services.tokens import create_token

        with mapped_errors():
            token = create_token(hub(), store, operator=operator, expires_in_days=expires_in)
        scope = "every store" if operator else f"store {store!r}"
        until = f", for {expires_in} days" if expires_in else ""
        echo(f"API token for {scope}{until} (shown once; use 'Authorization: Bearer <token>'):")
        echo(token)

    @token_app.command("list")
    def token_list(store: StoreOption = None, as_json: JsonOption = False) -> None:
        """Every API token (never the secret): id, store, state, dates; with --store, only
        that store's."""
        from stockbridge.services.stores import resolve_store
        from stockbridge.services.tokens import list_tokens

        with mapped_errors():
            instance = hub()
            if store is not None:
                resolve_store(instance, store)  # an unknown store: exit code 2
            tokens = list_tokens(instance, None if store is None else {store})
        if as_json:
            print_json(tokens)
            return
        table = Table()
        for column in ("id", "store", "state", "created", "last used", "expires"):
            table.add_column(column)
        for t in tokens:
            table.add_row(
                str(t.id),
                t.store or "every store",
                t.state,
                *(
                    moment.isoformat() if moment else "-"
                    for moment in (t.created_at, t.last_used_at, t.expires_at)
                ),
            )
        Console().print(table)

    @token_app.command("revoke")
    def token_revoke(token_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)]) -> None:
        """Revoke a token (by its id in `token list`): refused from its next request on."""
        from stockbridge.services.tokens import revoke_token

        with mapped_errors():
            revoke_token(hub(), token_id)
        echo(f"API token {token_id} revoked.")
