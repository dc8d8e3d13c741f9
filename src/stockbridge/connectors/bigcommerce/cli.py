"""``stockbridge connect bigcommerce`` and ``stockbridge sandbox bigcommerce``. The
sandbox is imported only when its command runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stockbridge.cli.common import PartnerCommands, fail, mapped_errors
from stockbridge.connectors.bigcommerce.app import webhook_url
from stockbridge.connectors.bigcommerce.client import DEFAULT_API_URL
from stockbridge.services.connections import connect_partner

__all__ = ["register", "webhook_url"]


def register(commands: PartnerCommands) -> None:
    @commands.connect.command("bigcommerce")
    def connect_bigcommerce(
        store: Annotated[str, typer.Option("--store", help="The hub store to connect.")],
        store_hash: Annotated[str, typer.Option("--store-hash", help="BigCommerce store hash.")],
        access_token: Annotated[
            str, typer.Option("--access-token", help="API account access token.")
        ],
        api_url: Annotated[
            str, typer.Option("--api-url", help="Replaces https://api.bigcommerce.com.")
        ] = DEFAULT_API_URL,
        webhook_base_url: Annotated[
            str | None,
            typer.Option(
                "--webhook-base-url",
                help="Where BigCommerce reaches this hub; without it, polling only.",
            ),
        ] = None,
    ) -> None:
        """Connect a store to BigCommerce (checks the token with one call first)."""
        if not store_hash.isalnum():
            fail("--store-hash is letters and digits only")
        if not api_url.startswith(("http://", "https://")):
            fail("--api-url must start with http:// or https://")
        settings: dict[str, Any] = {"store_hash": store_hash, "api_url": api_url.rstrip("/")}
        if webhook_base_url:
            settings["webhook_url"] = webhook_url(webhook_base_url, store)
        with mapped_errors():
            reached = connect_partner(
                commands.hub(),
                store,
                role="web",
                kind="bigcommerce",
                settings=settings,
                secrets={"access_token": access_token},
            )
        typer.echo(f"connected {store!r} to {reached}")
        if webhook_base_url:
            typer.echo(f"webhooks deliver to {settings['webhook_url']}")

    @commands.sandbox.command("bigcommerce")
    def sandbox_bigcommerce(
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8801,
        store_hash: Annotated[str, typer.Option("--store-hash")] = "sandbox",
        access_token: Annotated[str, typer.Option("--access-token")] = "sandbox-token",
        quota: Annotated[int, typer.Option("--quota", min=1, help="Requests per window.")] = 150,
    ) -> None:
        """Run the BigCommerce sandbox on 127.0.0.1 with one store ready."""
        import uvicorn

        from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore

        sandbox = BigCommerceSandbox()
        sandbox.stores[store_hash] = SStore(
            hash=store_hash, token=access_token, quota=quota, allow_insecure_webhooks=True
        )
        typer.echo(
            f"BigCommerce sandbox on http://127.0.0.1:{port} (store hash {store_hash}); "
            f"connect with --api-url http://127.0.0.1:{port}"
        )
        uvicorn.run(sandbox.app, host="127.0.0.1", port=port, log_level="warning")
