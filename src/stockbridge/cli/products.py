"""``stockbridge product list|show|assign|unassign|set-source|set-quantity``: which
products are assigned to the hub, which mode each follows, who owns its stock, and the
hub's own quantities. A change is carried to the web store at once (an inventory-out
run in this process); exit 1 when that run did not succeed, 2 for refused input."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from stockbridge.bootstrap import Hub
    from stockbridge.services.inventory import VariantStock
from stockbridge.cli.common import HubLoader, JsonOption, StoreOption, fail, mapped_errors
from stockbridge.cli.common import print_json as show_json
from stockbridge.cli.terminal import Console, Table, echo
from stockbridge.domain.model import InventorySource
from stockbridge.domain.wording import MODE_TITLES, mode_title

__all__ = ["register"]


class SourceChoice(StrEnum):
    """A product's own mode, or ``store`` to follow the store's again."""

    BACK_OFFICE = "back_office"
    WEB = "web"
    ERP_VIA_WEB = "erp_via_web"
    API = "api"
    STORE = "store"


SkusArgument = Annotated[
    list[str] | None, typer.Argument(help="SKUs, exactly as the store has them.")
]
PatternOption = Annotated[
    str | None,
    typer.Option("--pattern", help="Also every SKU matching this glob, e.g. 'PRE-*'."),
]


def _shown(quantity: int | None) -> str:
    return "-" if quantity is None else str(quantity)


def _default_level(v: VariantStock) -> tuple[str, str, str]:
    """The web, back-office and hub quantities at the default location."""
    for level in v.stock:
        if level.location == "default":
            return _shown(level.web), _shown(level.back_office), _shown(level.hub)
    return ("-", "-", "-")


def _table(variants: list[VariantStock]) -> Table:
    table = Table()
    for column in (
        "SKU",
        "name",
        "assigned",
        "mode",
        "source of truth",
        "web",
        "back office",
        "hub",
    ):
        table.add_column(column)
    for v in variants:
        mode = mode_title(v.mode) + ("" if v.source_override is None else " (own)")
        table.add_row(
            v.sku, v.name or "", "yes" if v.assigned else "no", mode, v.source_of_truth,
            *_default_level(v),
        )  # fmt: skip
    return table


def _carry(hub: Hub, run_id: int | None) -> None:
    """Carry the change to the web store now; exit 1 if that run did not succeed."""
    from stockbridge.services.products import carry_out
    from stockbridge.services.runs import exit_code

    if run_id is None:
        return
    report = carry_out(hub, run_id)
    echo(f"Sync data to the web (inventory-out) run {run_id}: {report.status.value}")
    if exit_code(report):
        raise typer.Exit(exit_code(report))


def register(app: typer.Typer, hub: HubLoader) -> None:
    product_app = typer.Typer(
        help="Assigned products, per-product sources and hub quantities.", no_args_is_help=True
    )
    app.add_typer(product_app, name="product")

    @product_app.command("list")
    def product_list(
        store: StoreOption = None,
        search: Annotated[str, typer.Option("--search", help="SKU or name contains this.")] = "",
        assigned: Annotated[
            bool, typer.Option("--assigned", help="Assigned products only.")
        ] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
        as_json: JsonOption = False,
    ) -> None:
        """List products with who owns their stock (by SKU)."""
        from stockbridge.services.inventory import search_inventory

        with mapped_errors():
            found = search_inventory(hub(), store, search, limit)
        if assigned:
            found = [v for v in found if v.assigned]
        if as_json:
            show_json(found)
            return
        Console(width=160).print(_table(found))

    @product_app.command("show")
    def product_show(sku: str, store: StoreOption = None, as_json: JsonOption = False) -> None:
        """One product: each side's stock, and who owns it."""
        from stockbridge.services.inventory import product_detail
        from stockbridge.services.stores import resolve_store

        with mapped_errors():
            loaded = hub()
            detail = product_detail(loaded, resolve_store(loaded, store), sku)
        if detail is None:
            fail(f"no SKU {sku!r} in that store")
        if as_json:
            show_json(detail)
            return
        echo(f"{detail.sku}: {detail.name or ''}")
        echo(f"assigned: {'yes' if detail.assigned else 'no'}")
        own = " (the product's own)" if detail.source_override else " (the store's)"
        echo(f"mode: {detail.mode}{own}")
        echo(f"source of truth: {detail.source_of_truth}")
        for level in detail.stock:
            echo(
                f"  {level.location}: web {level.web}, back office {level.back_office}, "
                f"hub {level.hub}"
            )

    def _assign(
        skus: list[str] | None, store: str | None, pattern: str | None, assigned: bool
    ) -> None:
        from stockbridge.services.products import AssignProducts, assign_products

        with mapped_errors():
            loaded = hub()
            changed = assign_products(
                loaded, AssignProducts(store, tuple(skus or ()), pattern, assigned)
            )
        verb = "assigned to the hub" if assigned else "no longer assigned"
        echo(f"{verb}: {', '.join(changed.changed) or 'none'}")
        if changed.unchanged:
            echo(f"already so: {', '.join(changed.unchanged)}")
        _carry(loaded, changed.run_id)

    @product_app.command("assign")
    def product_assign(
        skus: SkusArgument = None, store: StoreOption = None, pattern: PatternOption = None
    ) -> None:
        """Assign products to the hub (backorder / pre-order products it manages)."""
        _assign(skus, store, pattern, True)

    @product_app.command("unassign")
    def product_unassign(
        skus: SkusArgument = None, store: StoreOption = None, pattern: PatternOption = None
    ) -> None:
        """Take products back from the hub: the mode's other source owns them again."""
        _assign(skus, store, pattern, False)

    @product_app.command("set-source")
    def product_set_source(
        sku: str,
        source: Annotated[
            SourceChoice,
            typer.Option(
                "--source",
                help="The product's own mode ("
                + "; ".join(f"{m.value}: {t}" for m, t in MODE_TITLES.items())
                + "); 'store' follows the store's.",
            ),
        ],
        store: StoreOption = None,
    ) -> None:
        """Give one product a mode of its own, or let it follow the store's again."""
        from stockbridge.services.products import SetProductSource, set_product_source

        chosen = None if source is SourceChoice.STORE else InventorySource(source.value)
        with mapped_errors():
            loaded = hub()
            done = set_product_source(loaded, SetProductSource(store, sku, chosen))
        echo(f"{sku}: {done.product.explanation}")
        _carry(loaded, done.run_id)

    @product_app.command("set-quantity")
    def product_set_quantity(sku: str, quantity: int, store: StoreOption = None) -> None:
        """Set the hub's quantity of an assigned product whose stock the hub owns."""
        from stockbridge.services.inventory import SetHubQuantity, set_hub_quantity

        with mapped_errors():
            loaded = hub()
            requested = set_hub_quantity(loaded, SetHubQuantity(store, sku, quantity))
        echo(f"{sku}: hub quantity {quantity}")
        _carry(loaded, requested.run_id)
