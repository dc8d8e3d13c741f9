"""``stockbridge connect bigcommerce`` and ``stockbridge sandbox bigcommerce``. The
sandbox is imported only when its command runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stockbridge.cli.common import PartnerCommands, echo, fail, mapped_errors, secret_value
from stockbridge.connectors.bigcommerce.app import webhook_url
from stockbridge.connectors.bigcommerce.client import DEFAULT_API_URL
from stockbridge.services.connections import connect_partner

__all__ = ["register", "webhook_url"]


TOKEN_ENV = "STOCKBRIDGE_BIGCOMMERCE_ACCESS_TOKEN"
SANDBOX_TOKEN_ENV = "STOCKBRIDGE_SANDBOX_BIGCOMMERCE_TOKEN"


def register(commands: PartnerCommands) -> None:
    @commands.connect.command("bigcommerce")
    def connect_bigcommerce(
        ctx: typer.Context,
        store: Annotated[str, typer.Option("--store", help="The hub store to connect.")],
        store_hash: Annotated[str, typer.Option("--store-hash", help="BigCommerce store hash.")],
        access_token: Annotated[
            str | None,
            typer.Option(
                "--access-token",
                envvar=TOKEN_ENV,
                help="API account access token; by default read with --access-token-stdin "
                f"or from ${TOKEN_ENV} (on the command line it warns).",
            ),
        ] = None,
        access_token_stdin: Annotated[
            bool,
            typer.Option("--access-token-stdin", help="Read the access token from standard input."),
        ] = False,
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
        token = secret_value(
            ctx,
            "access_token",
            access_token,
            option="--access-token",
            env=TOKEN_ENV,
            from_stdin=access_token_stdin,
        )
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
                secrets={"access_token": token or ""},
            )
        echo(f"connected {store!r} to {reached}")
        if webhook_base_url:
            echo(f"webhooks deliver to {settings['webhook_url']}")

    @commands.sandbox.command("bigcommerce")
    def sandbox_bigcommerce(
        ctx: typer.Context,
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8801,
        store_hash: Annotated[str, typer.Option("--store-hash")] = "sandbox",
        access_token: Annotated[
            str,
            typer.Option(
                "--access-token",
                envvar=SANDBOX_TOKEN_ENV,
                help="The token the sandbox accepts; by default from --access-token-stdin "
                f"or ${SANDBOX_TOKEN_ENV} (on the command line it warns).",
            ),
        ] = "sandbox-token",
        access_token_stdin: Annotated[
            bool, typer.Option("--access-token-stdin", help="Read it from standard input.")
        ] = False,
        quota: Annotated[int, typer.Option("--quota", min=1, help="Requests per window.")] = 150,
        app_url: Annotated[
            str | None,
            typer.Option(
                "--app-url",
                help="The hub's URL: registers a single-click app whose callbacks are there.",
            ),
        ] = None,
        app_client_id: Annotated[str, typer.Option("--app-client-id")] = "sandbox-app",
        app_client_secret: Annotated[
            str, typer.Option("--app-client-secret", envvar="STOCKBRIDGE_BIGCOMMERCE_CLIENT_SECRET")
        ] = "sandbox-app-secret",
    ) -> None:
        """Run the BigCommerce sandbox on 127.0.0.1 with one store ready (and, with
        --app-url, the single-click app to install on it)."""
        access_token = (
            secret_value(
                ctx,
                "access_token",
                access_token,
                option="--access-token",
                env=SANDBOX_TOKEN_ENV,
                from_stdin=access_token_stdin,
            )
            or access_token
        )
        import uvicorn

        from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SApp, SStore

        sandbox = BigCommerceSandbox()
        store = SStore(
            hash=store_hash, token=access_token, quota=quota, allow_insecure_webhooks=True
        )
        sandbox.stores[store_hash] = store
        base = f"http://127.0.0.1:{port}"
        echo(
            f"BigCommerce sandbox on {base} (store hash {store_hash}); "
            f"connect with --api-url {base}"
        )
        if app_url:
            hub = app_url.rstrip("/")
            sandbox.apps[app_client_id] = SApp(
                client_id=app_client_id,
                client_secret=app_client_secret,
                auth_callback=f"{hub}/bigcommerce/auth",
                load_callback=f"{hub}/bigcommerce/load",
                uninstall_callback=f"{hub}/bigcommerce/uninstall",
                remove_user_callback=f"{hub}/bigcommerce/remove_user",
                scope="store_v2_orders store_v2_products",
            )
            echo(
                f"app {app_client_id!r}: install at {base}/app/{app_client_id}/install"
                f"?store_hash={store_hash}&user_id={store.owner().id} "
                f"(hub: STOCKBRIDGE_BIGCOMMERCE_LOGIN_URL={base} "
                f"STOCKBRIDGE_BIGCOMMERCE_API_URL={base}); load, uninstall and remove_user "
                f"with POST {base}/admin/apps/{app_client_id}/stores/{store_hash}/..."
            )
        uvicorn.run(sandbox.app, host="127.0.0.1", port=port, log_level="warning")
