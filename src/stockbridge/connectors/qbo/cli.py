"""``stockbridge connect qbo`` and ``stockbridge sandbox qbo``. The sandbox is imported
only when its command runs."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import PartnerCommands, mapped_errors
from stockbridge.connectors.qbo import KIND
from stockbridge.connectors.qbo.client import DEFAULT_API_URL, DEFAULT_TOKEN_URL
from stockbridge.services.connections import connect_partner

__all__ = ["register"]


def register(commands: PartnerCommands) -> None:
    @commands.connect.command("qbo")
    def connect_qbo(
        realm_id: Annotated[str, typer.Option("--realm-id", help="The company's realm id.")],
        client_id: Annotated[str, typer.Option("--client-id", help="The app's client id.")],
        client_secret: Annotated[
            str, typer.Option("--client-secret", help="The app's client secret.")
        ],
        refresh_token: Annotated[
            str, typer.Option("--refresh-token", help="The company's OAuth 2 refresh token.")
        ],
        store: Annotated[
            str | None, typer.Option("--store", help="Store name; optional when only one exists.")
        ] = None,
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
        """Connect a store to a QuickBooks Online company (checks the grant at once)."""
        if document not in ("sales_receipt", "invoice"):
            raise typer.BadParameter("sales_receipt or invoice", param_hint="--document")
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
            "client_secret": client_secret,
            "refresh_token": refresh_token,
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
            typer.echo(f"connected to QuickBooks company {reached!r}")

    @commands.sandbox.command("qbo")
    def sandbox_qbo(
        port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free).")] = 0,
        items: Annotated[int, typer.Option("--items", help="Seed this many items.")] = 0,
        client_id: Annotated[
            str, typer.Option("--client-id", help="The app's client id to accept.")
        ] = "sandbox-client-id",
        client_secret: Annotated[
            str, typer.Option("--client-secret", help="The app's client secret to accept.")
        ] = "sandbox-client-secret",
    ) -> None:
        """Run the QuickBooks Online sandbox on 127.0.0.1 until interrupted."""
        import uvicorn

        from stockbridge.connectors.qbo.sandbox import QboSandbox

        sandbox = QboSandbox()
        sandbox.books.client_id, sandbox.books.client_secret = client_id, client_secret
        for n in range(items):
            sandbox.books.add_item({"sku": f"SKU-{n:06d}", "qty": 100, "price": "9.99"})
        typer.echo(
            f"QuickBooks sandbox: realm {sandbox.books.realm_id}; API base "
            f"http://127.0.0.1:{port}; token endpoint "
            f"http://127.0.0.1:{port}/oauth2/v1/tokens/bearer; a refresh token from "
            f"POST /admin/tokens/issue; client id {client_id!r} with the client secret "
            f"given by --client-secret (the secret is never printed)"
        )
        uvicorn.run(sandbox, host="127.0.0.1", port=port, log_level="warning")
