"""``stockbridge books reconcile``: the month-end check of a store's books."""

from __future__ import annotations

from typing import Annotated

import typer

from stockbridge.cli.common import (
    HubLoader,
    JsonOption,
    StoreOption,
    fail,
    mapped_errors,
    print_json,
)
from stockbridge.cli.terminal import Console, Table

__all__ = ["register"]


def register(app: typer.Typer, hub: HubLoader) -> None:
    books_app = typer.Typer(help="The store's books in the back office.", no_args_is_help=True)
    app.add_typer(books_app, name="books")

    @books_app.command("reconcile")
    def reconcile(
        start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
        end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC).")],
        store: StoreOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Per day, the web store's orders, refunds and cancellations against the
        receipts, refund receipts and voids the back office holds; every difference
        with its cause. Reads the partners, writes nothing. Exit 0 when the books agree,
        3 when differences were found, 2 for bad input, 1 when a partner failed."""
        from stockbridge.connectors.errors import PartnerError
        from stockbridge.services.books import parse_period, reconcile_books, reconciliation_json

        with mapped_errors():
            first, last = parse_period(start, end)
            instance = hub()
            try:
                found = reconcile_books(instance, store, first, last)
            except PartnerError as exc:
                fail(f"could not read the partners: {exc}", 1)
        if as_json:
            print_json(reconciliation_json(found))
            raise typer.Exit(0 if found.agrees else 3)
        console = Console()
        days = Table(
            "day", "web orders", "refunds", "cancelled", "receipts", "refund receipts", "voids"
        )
        for d in found.days:
            days.add_row(
                d.day.isoformat(),
                f"{d.orders} / {d.orders_total:.2f}",
                f"{d.refunds} / {d.refunds_total:.2f}",
                str(d.cancellations),
                f"{d.receipts} / {d.receipts_total:.2f}",
                f"{d.refund_receipts} / {d.refund_receipts_total:.2f}",
                str(d.voids),
            )
        console.print(days)
        if found.agrees:
            console.print(f"The books agree with the web store from {found.start} to {found.end}.")
            return
        table = Table("day", "what", "ref", "cause", "detail")
        for diff in found.differences:
            table.add_row(diff.day.isoformat(), diff.what, diff.ref, diff.cause.value, diff.detail)
        console.print(table)
        console.print(f"{len(found.differences)} difference(s).", highlight=False)
        raise typer.Exit(3)
