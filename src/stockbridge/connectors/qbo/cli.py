"""``stockbridge connect qbo`` and ``stockbridge sandbox qbo``. The sandbox is imported
only when its command runs."""

from __future__ import annotations

import contextlib
import socket
import time
import webbrowser
from typing import Annotated
from urllib.parse import urlencode

import typer

from stockbridge.cli.common import (
    PartnerCommands,
    echo,
    fail,
    mapped_errors,
    on_command_line,
    secret_value,
)
from stockbridge.connectors.qbo import KIND
from stockbridge.connectors.qbo.client import DEFAULT_API_URL, DEFAULT_TOKEN_URL
from stockbridge.services.connections import connect_partner
from stockbridge.services.oauth import create_link, link_outcome

__all__ = ["register"]


SECRET_HELP = "; by default read with {stdin} or from ${env} (on the command line it warns)"
CALLBACK = "/oauth/qbo/callback"


def register(commands: PartnerCommands) -> None:
    @commands.connect.command("qbo")
    def connect_qbo(
        ctx: typer.Context,
        store: Annotated[
            str | None, typer.Option("--store", help="Store name; optional when only one exists.")
        ] = None,
        browser: Annotated[
            bool,
            typer.Option(
                "--browser",
                help="Connect through Intuit's consent page: print a one-time link (served "
                "by the running `stockbridge serve`), open it if possible, and wait for "
                "the consent to finish. Needs STOCKBRIDGE_QBO_CLIENT_ID/_SECRET on serve.",
            ),
        ] = False,
        base_url: Annotated[
            str | None,
            typer.Option(
                "--base-url",
                help="With --browser: where a browser reaches `stockbridge serve` (default: "
                "from STOCKBRIDGE_QBO_REDIRECT_URL).",
            ),
        ] = None,
        open_browser: Annotated[
            bool, typer.Option("--open/--no-open", help="With --browser: open the link.")
        ] = True,
        wait: Annotated[
            int,
            typer.Option("--wait", min=1, max=3600, help="With --browser: seconds to wait."),
        ] = 600,
        realm_id: Annotated[
            str | None, typer.Option("--realm-id", help="The company's realm id.")
        ] = None,
        client_id: Annotated[
            str | None,
            typer.Option(
                "--client-id", envvar="STOCKBRIDGE_QBO_CLIENT_ID", help="The app's client id."
            ),
        ] = None,
        client_secret: Annotated[
            str | None,
            typer.Option(
                "--client-secret",
                envvar="STOCKBRIDGE_QBO_CLIENT_SECRET",
                help="The app's client secret"
                + SECRET_HELP.format(
                    stdin="--client-secret-stdin", env="STOCKBRIDGE_QBO_CLIENT_SECRET"
                ),
            ),
        ] = None,
        client_secret_stdin: Annotated[
            bool,
            typer.Option(
                "--client-secret-stdin",
                help="Read the client secret from a line of standard input (first).",
            ),
        ] = False,
        refresh_token: Annotated[
            str | None,
            typer.Option(
                "--refresh-token",
                envvar="STOCKBRIDGE_QBO_REFRESH_TOKEN",
                help="The company's OAuth 2 refresh token"
                + SECRET_HELP.format(
                    stdin="--refresh-token-stdin", env="STOCKBRIDGE_QBO_REFRESH_TOKEN"
                ),
            ),
        ] = None,
        refresh_token_stdin: Annotated[
            bool,
            typer.Option(
                "--refresh-token-stdin",
                help="Read the refresh token from a line of standard input (after the "
                "client secret's, when both are read).",
            ),
        ] = False,
        api_url: Annotated[
            str, typer.Option("--api-url", help="Replaces the API base (the sandbox's URL).")
        ] = DEFAULT_API_URL,
        token_url: Annotated[
            str, typer.Option("--token-url", help="Replaces the whole OAuth 2 token endpoint.")
        ] = DEFAULT_TOKEN_URL,
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, max=30, help="Orders per batch call.")
        ] = 30,
        document: Annotated[
            str, typer.Option("--document", help="sales_receipt (default) or invoice.")
        ] = "sales_receipt",
        doc_prefix: Annotated[
            str, typer.Option("--doc-prefix", help="Put before the web order number.")
        ] = "",
        tax_mode: Annotated[
            str,
            typer.Option(
                "--tax-mode",
                help="The company's tax kind: ast (US, automated sales tax), us_codes (US "
                "without it) or global (outside the US).",
            ),
        ] = "ast",
        tax_code_id: Annotated[
            str | None,
            typer.Option(
                "--tax-code-id",
                help="The TaxCode taxed sales carry (us_codes: the transaction's; global: "
                "every line's, required).",
            ),
        ] = None,
    ) -> None:
        """Connect a store to a QuickBooks Online company: with --browser through Intuit's
        consent page, else with a refresh token you have (checks the grant at once)."""
        if browser:
            manual = [
                o
                for o in ("realm_id", "refresh_token", "refresh_token_stdin")
                if on_command_line(ctx, o)
            ]
            if manual:
                fail(
                    "--browser gets the realm and the tokens from the consent: drop "
                    + ", ".join("--" + o.replace("_", "-") for o in manual)
                )
            _connect_in_browser(commands, store, base_url, open_browser, wait)
            return
        if document not in ("sales_receipt", "invoice"):
            raise typer.BadParameter("sales_receipt or invoice", param_hint="--document")
        if not realm_id or not client_id:
            fail("give --realm-id and --client-id (or connect with --browser)")
        secret = secret_value(
            ctx,
            "client_secret",
            client_secret,
            option="--client-secret",
            env="STOCKBRIDGE_QBO_CLIENT_SECRET",
            from_stdin=client_secret_stdin,
        )
        token = secret_value(
            ctx,
            "refresh_token",
            refresh_token,
            option="--refresh-token",
            env="STOCKBRIDGE_QBO_REFRESH_TOKEN",
            from_stdin=refresh_token_stdin,
        )
        if tax_mode not in ("ast", "us_codes", "global"):
            raise typer.BadParameter("ast, us_codes or global", param_hint="--tax-mode")
        if tax_mode == "global" and not tax_code_id:
            raise typer.BadParameter("global needs --tax-code-id", param_hint="--tax-mode")
        settings = {
            "realm_id": realm_id,
            "api_url": api_url,
            "token_url": token_url,
            "batch_size": batch_size,
            "document": document,
            "doc_prefix": doc_prefix,
            "tax_mode": tax_mode,
            **({"tax_code_id": tax_code_id} if tax_code_id else {}),
        }
        secrets = {
            "client_id": client_id,
            "client_secret": secret or "",
            "refresh_token": token or "",
        }
        with mapped_errors():
            reached = connect_partner(
                commands.hub(),
                store,
                role="back_office",
                kind=KIND,
                settings=settings,
                secrets=secrets,
            )
            echo(f"connected to QuickBooks company {reached!r}")

    @commands.sandbox.command("qbo")
    def sandbox_qbo(
        ctx: typer.Context,
        port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free).")] = 0,
        items: Annotated[int, typer.Option("--items", help="Seed this many items.")] = 0,
        client_id: Annotated[
            str, typer.Option("--client-id", help="The app's client id to accept.")
        ] = "sandbox-client-id",
        client_secret: Annotated[
            str,
            typer.Option(
                "--client-secret",
                envvar="STOCKBRIDGE_SANDBOX_QBO_CLIENT_SECRET",
                help="The app's client secret to accept"
                + SECRET_HELP.format(
                    stdin="--client-secret-stdin", env="STOCKBRIDGE_SANDBOX_QBO_CLIENT_SECRET"
                ),
            ),
        ] = "sandbox-client-secret",
        client_secret_stdin: Annotated[
            bool, typer.Option("--client-secret-stdin", help="Read it from standard input.")
        ] = False,
    ) -> None:
        """Run the QuickBooks Online sandbox on 127.0.0.1 until interrupted."""
        client_secret = (
            secret_value(
                ctx,
                "client_secret",
                client_secret,
                option="--client-secret",
                env="STOCKBRIDGE_SANDBOX_QBO_CLIENT_SECRET",
                from_stdin=client_secret_stdin,
            )
            or client_secret
        )
        import uvicorn

        from stockbridge.connectors.qbo.sandbox import QboSandbox

        sandbox = QboSandbox()
        sandbox.books.client_id, sandbox.books.client_secret = client_id, client_secret
        for n in range(items):
            sandbox.books.add_item({"sku": f"SKU-{n:06d}", "qty": 100, "price": "9.99"})
        # Bind first, so the address printed is the one listening (--port 0: the free port
        # the system chose, never ":0").
        listener = socket.create_server(("127.0.0.1", port))
        port = listener.getsockname()[1]
        echo(
            f"QuickBooks sandbox: realm {sandbox.books.realm_id}; API base "
            f"http://127.0.0.1:{port}; token endpoint "
            f"http://127.0.0.1:{port}/oauth2/v1/tokens/bearer; a refresh token from "
            f"POST /admin/tokens/issue; client id {client_id!r} with the client secret "
            f"given by --client-secret (the secret is never printed)"
        )
        config = uvicorn.Config(sandbox, log_level="warning")
        uvicorn.Server(config).run(sockets=[listener])


def _connect_in_browser(
    commands: PartnerCommands, store: str | None, base_url: str | None, open_it: bool, wait: int
) -> None:
    """Print a one-time link to ``serve``'s start page, then wait until the consent it
    begins has ended (the running service completes it and writes the outcome)."""
    hub = commands.hub()
    base = base_url
    redirect = hub.settings.qbo_redirect_url
    if base is None and redirect and redirect.endswith(CALLBACK):
        base = redirect[: -len(CALLBACK)]
    if not base or not base.startswith(("http://", "https://")):
        fail("give --base-url: where a browser reaches `stockbridge serve` (http(s)://...)")
    with mapped_errors():
        link, name = create_link(hub, KIND, store)
    url = f"{base.rstrip('/')}/oauth/qbo/start?{urlencode({'store': name, 'link': link})}"
    echo("Open this link in a browser within 10 minutes (it works once):")
    echo(url)
    if open_it:
        with contextlib.suppress(Exception):  # no browser here: the printed link will do
            webbrowser.open(url)
    deadline = time.monotonic() + wait
    while True:
        with mapped_errors():
            outcome = link_outcome(hub, link)
        if outcome is not None:
            break
        if time.monotonic() >= deadline:
            fail(f"no answer within {wait} s: run the command again", code=1)
        time.sleep(0.5)
    result, detail = outcome
    if result != "connected":
        fail(detail, code=1)
    echo(detail)
