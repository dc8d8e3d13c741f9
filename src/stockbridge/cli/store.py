"""``stockbridge store add|list|show|set|rotate-webhook-secret``."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from stockbridge.cli.common import HubLoader, JsonOption, mapped_errors, print_json, secret_value
from stockbridge.cli.terminal import Console, Table, echo
from stockbridge.domain.model import InventorySource
from stockbridge.domain.wording import MODE_TITLES, mode_title

if TYPE_CHECKING:
    from stockbridge.services.stores import ConnectionHealth

__all__ = ["register"]


class OnOff(StrEnum):
    ON = "on"
    OFF = "off"


class PriceSourceChoice(StrEnum):
    BACK_OFFICE = "back_office"
    WEB = "web"
    AUTO = "auto"


class InactiveChoice(StrEnum):
    ZERO = "zero"
    HIDE = "hide"


def _on(value: OnOff | None) -> bool | None:
    return None if value is None else value is OnOff.ON


TimezoneOption = Annotated[
    str | None, typer.Option("--timezone", help="IANA time zone, e.g. America/Chicago.")
]
SourceOption = Annotated[
    InventorySource | None,
    typer.Option(
        "--inventory-source",
        help="The inventory mode: "
        + "; ".join(f"{mode.value}: {title}" for mode, title in MODE_TITLES.items())
        + ".",
    ),
]
ErpOption = Annotated[
    str | None, typer.Option("--erp-name", help="The ERP's name, for reference only.")
]


def _connections(connections: tuple[ConnectionHealth, ...]) -> str:
    return ", ".join(_connection(c) for c in connections)


def _connection(c: ConnectionHealth) -> str:
    if c.role == "supplier":
        owned = f", owns {c.owns}" if c.owns else ""
        return f"supplier:{c.name}={c.kind} ({c.health}{owned})"
    account = f", account {c.account}" if c.account else ""
    return f"{c.role}={c.kind} ({c.health}{account})"


def register(app: typer.Typer, hub: HubLoader) -> None:
    store_app = typer.Typer(help="Add, list, show and change stores.", no_args_is_help=True)
    app.add_typer(store_app, name="store")

    @store_app.command("add")
    def store_add(
        name: str,
        timezone: TimezoneOption = None,
        inventory_source: SourceOption = None,
        erp_name: ErpOption = None,
    ) -> None:
        """Add a store."""
        from stockbridge.services.stores import add_store

        with mapped_errors():
            store = add_store(
                hub(),
                name,
                timezone=timezone or "UTC",
                inventory_source=inventory_source or InventorySource.BACK_OFFICE,
                erp_name=erp_name,
            )
            echo(f"store {store.name!r} added")

    @store_app.command("list")
    def store_list(as_json: JsonOption = False) -> None:
        """List stores."""
        from stockbridge.services.stores import list_stores

        with mapped_errors():
            stores = list_stores(hub())
        if as_json:
            print_json(stores)
            return
        table = Table()
        for column in ("name", "timezone", "inventory source", "ERP", "connections"):
            table.add_column(column)
        for s in stores:
            table.add_row(
                s.name,
                s.timezone,
                mode_title(s.inventory_source),
                s.erp_name or "",
                _connections(s.connections) or "none",
            )
        Console().print(table)

    @store_app.command("show")
    def store_show(name: str, as_json: JsonOption = False) -> None:
        """Show every setting of a store."""
        from stockbridge.jsonable import json_object
        from stockbridge.services.stores import describe_store

        with mapped_errors():
            store = describe_store(hub(), name)
        if as_json:
            print_json(store)
            return
        for key, value in json_object(store).items():
            if key == "connections":
                value = _connections(store.connections) or "none"
            elif key == "inventory_source":
                value = f"{value} ({mode_title(store.inventory_source)})"
            elif key == "sync_all_button":
                echo(
                    "Sync All: shown in the dashboard's back-office bar"
                    if value
                    else "Sync All: hidden (turn it on in the Options: "
                    f"stockbridge store set {shlex.quote(name)} --sync-all-button on)"
                )
                continue
            elif key == "erp_name" and value:
                value = f"{value} (for reference; does not change how data syncs)"
            echo(f"{key}: {'' if value is None else value}")

    @store_app.command("disconnect")
    def store_disconnect(
        supplier: Annotated[
            str, typer.Option("--supplier", help="The supplier to disconnect, by name.")
        ],
        store: Annotated[
            str | None, typer.Option("--store", help="Store name; optional when only one exists.")
        ] = None,
    ) -> None:
        """Disconnect a supplier: its SKUs go back to the store's back office."""
        from stockbridge.services.connections import disconnect_supplier

        with mapped_errors():
            removed = disconnect_supplier(hub(), store, supplier)
        echo(
            f"supplier {removed.supplier!r} disconnected from {removed.store!r}; "
            f"{removed.released} SKU(s) back with the back office (stock unknown until it "
            "reports them)"
        )

    @store_app.command("set")
    def store_set(
        ctx: typer.Context,
        name: str,
        timezone: TimezoneOption = None,
        inventory_source: SourceOption = None,
        erp_name: ErpOption = None,
        sync_all_button: Annotated[
            OnOff | None,
            typer.Option(
                "--sync-all-button",
                help="Options (General): show Sync All in the dashboard's back-office bar.",
            ),
        ] = None,
        alert_email: Annotated[
            str | None,
            typer.Option("--alert-email", help='Send alerts to this address ("" to stop).'),
        ] = None,
        alert_webhook: Annotated[
            str | None,
            typer.Option(
                "--alert-webhook",
                help='POST alerts to this URL, e.g. a chat webhook ("" to stop). Such URLs '
                "carry a secret: by default read it with --alert-webhook-stdin (on the "
                "command line it warns).",
            ),
        ] = None,
        alert_webhook_stdin: Annotated[
            bool,
            typer.Option("--alert-webhook-stdin", help="Read the alert webhook URL from stdin."),
        ] = False,
        stale_after_hours: Annotated[
            int | None,
            typer.Option(
                "--stale-after-hours", help="Alert when no sync succeeded for this long (24)."
            ),
        ] = None,
        failing_item_runs: Annotated[
            int | None,
            typer.Option(
                "--failing-item-runs",
                help="Alert when the same item failed in this many runs in a row (3).",
            ),
        ] = None,
        pending_order_hours: Annotated[
            int | None,
            typer.Option(
                "--pending-order-hours",
                help="Alert when a web order waited this long for the back office (24).",
            ),
        ] = None,
        drift_threshold: Annotated[
            int | None,
            typer.Option(
                "--drift-threshold",
                help="Alert when the drift stays above this many SKUs (10; 3 checks in a row).",
            ),
        ] = None,
        create_new: Annotated[
            OnOff | None,
            typer.Option(
                "--create-new", help="Create new back-office items on the web store (on)."
            ),
        ] = None,
        new_visible: Annotated[
            OnOff | None,
            typer.Option(
                "--new-visible",
                help="Created items are visible at once (off: hidden for review).",
            ),
        ] = None,
        price_source: Annotated[
            PriceSourceChoice | None,
            typer.Option(
                "--price-source",
                help="Whose prices the web store shows (auto: the back office in "
                "back_office mode; in the other modes always the web store's own).",
            ),
        ] = None,
        push_names: Annotated[
            OnOff | None,
            typer.Option("--push-names", help="Send back-office names to the web store (off)."),
        ] = None,
        inactive: Annotated[
            InactiveChoice | None,
            typer.Option(
                "--inactive",
                help="An item made inactive in the back office: stock 0 on the web (zero) "
                "or hidden (hide).",
            ),
        ] = None,
    ) -> None:
        """Change a store's settings."""
        from stockbridge.services.stores import update_store

        # No environment variable here: one left set would change every store it ran for.
        alert_webhook = secret_value(
            ctx,
            "alert_webhook",
            alert_webhook,
            option="--alert-webhook",
            env=None,
            from_stdin=alert_webhook_stdin,
            required=False,
        )
        with mapped_errors():
            update_store(
                hub(),
                name,
                timezone=timezone,
                inventory_source=inventory_source,
                erp_name=erp_name,
                sync_all_button=None if sync_all_button is None else sync_all_button is OnOff.ON,
                alert_email=alert_email,
                alert_webhook_url=alert_webhook,
                stale_after_hours=stale_after_hours,
                failing_item_runs=failing_item_runs,
                pending_order_hours=pending_order_hours,
                drift_threshold=drift_threshold,
                catalog_create_new=_on(create_new),
                catalog_new_visible=_on(new_visible),
                catalog_price_source=None if price_source is None else price_source.value,
                catalog_push_names=_on(push_names),
                catalog_inactive=None if inactive is None else inactive.value,
            )
            echo(f"store {name!r} updated")

    @store_app.command("books")
    def store_books(
        name: str,
        customers: Annotated[
            str | None,
            typer.Option(
                "--customers",
                help="single: every web order to one customer; per_buyer: one customer per "
                "buyer, matched by e-mail and created once.",
            ),
        ] = None,
        cancel_as: Annotated[
            str | None,
            typer.Option(
                "--cancel-as",
                help="A posted order cancelled on the web: void (the document is voided) or "
                "refund_receipt.",
            ),
        ] = None,
        deposit_account: Annotated[
            str | None,
            typer.Option(
                "--deposit-account",
                help="The back-office account id receipts go to and refunds are paid from "
                '("" to use the back office\'s default).',
            ),
        ] = None,
        payment_methods: Annotated[
            str | None,
            typer.Option(
                "--payment-methods",
                help="Web payment method -> back-office payment method id, e.g. "
                '"Credit Card=3,PayPal=5" (replaces the map; "" clears it).',
            ),
        ] = None,
        status_after_post: Annotated[
            str | None,
            typer.Option(
                "--status-after-post",
                help="The web order status id written back once an order is posted "
                '(e.g. 9 Awaiting Shipment), or "off".',
            ),
        ] = None,
    ) -> None:
        """Change what a store's orders bring to the books, and show the result."""
        from stockbridge.services.stores import parse_payment_methods, update_books

        status: int | None = None
        off = False
        if status_after_post is not None:
            if status_after_post.strip().lower() == "off":
                off = True
            elif status_after_post.strip().isdigit():
                status = int(status_after_post)
            else:
                raise typer.BadParameter(
                    "a status id (1-14) or off", param_hint="--status-after-post"
                )
        with mapped_errors():
            methods = None if payment_methods is None else parse_payment_methods(payment_methods)
            store = update_books(
                hub(),
                name,
                customer_mode=customers,
                cancel_as=cancel_as,
                deposit_account=deposit_account,
                payment_methods=methods,
                status_after_post=status,
                status_after_post_off=off,
            )
        echo(f"store {name!r} books:")
        echo(f"customers: {store.customer_mode.value}")
        echo(f"cancel_as: {store.cancel_as.value}")
        echo(f"deposit_account: {store.deposit_account or '(back office default)'}")
        mapped = ", ".join(f"{k}={v}" for k, v in store.payment_methods.items())
        echo(f"payment_methods: {mapped or 'none'}")
        echo(f"status_after_post: {store.status_after_post or 'off'}")

    @store_app.command("rotate-webhook-secret")
    def store_rotate_webhook_secret(
        name: str,
        grace_minutes: Annotated[
            int,
            typer.Option(
                "--grace-minutes",
                min=0,
                help="Keep accepting the old secret for this long (deliveries already on "
                "their way, retries).",
            ),
        ] = 60,
    ) -> None:
        """Give the store's webhooks a new random secret and re-register them with it."""
        from stockbridge.services.webhooks import rotate_webhook_secret

        with mapped_errors():
            rotation = rotate_webhook_secret(hub(), name, grace=timedelta(minutes=grace_minutes))
        echo(f"store {name!r}: new {rotation.kind} webhook secret stored")
        if rotation.previous_until is not None:
            until = datetime.fromtimestamp(rotation.previous_until, UTC)
            echo(f"the old secret is accepted until {until:%Y-%m-%d %H:%M:%S} UTC")
        for note in rotation.notes:
            echo(note)
        if not rotation.notes:
            echo("no hooks to re-register (no webhook URL, or none registered yet)")
