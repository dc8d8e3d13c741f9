"""``stockbridge connect qbwc`` and ``stockbridge sandbox qbwc``. The sandbox is imported
only when its command runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from stockbridge.cli.common import PartnerCommands, echo, fail, mapped_errors
from stockbridge.services.qbwc import DEFAULT_APP_URL, connect_qbwc

__all__ = ["register"]


def register(commands: PartnerCommands) -> None:
    @commands.connect.command("qbwc")
    def connect(
        flavour: Annotated[
            str, typer.Option("--flavour", help="desktop (QuickBooks Desktop) or pos.")
        ],
        store: Annotated[
            str | None, typer.Option("--store", help="Store name; optional when only one exists.")
        ] = None,
        every: Annotated[
            int, typer.Option("--every", min=1, max=1440, help="Minutes between updates.")
        ] = 15,
        qwc_file: Annotated[
            Path | None, typer.Option("--qwc-file", help="Where to write the .qwc file.")
        ] = None,
        app_url: Annotated[
            str, typer.Option("--app-url", help="This service's /qbwc URL, as the PC reaches it.")
        ] = DEFAULT_APP_URL,
        sku_field: Annotated[
            str | None,
            typer.Option(
                "--sku-field",
                help="Desktop: full_name (default), name, manufacturer_part_number; "
                "POS: alu (default), item_number, upc.",
            ),
        ] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
    ) -> None:
        """Connect the store's back office through the QuickBooks Web Connector: creates
        its user and writes the .qwc file to open in the Web Connector. A generated
        password is printed once, on the last line."""
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        with mapped_errors():
            done = connect_qbwc(
                commands.hub(),
                store,
                flavour=flavour,
                every_minutes=every,
                app_url=app_url,
                password=password,
                sku_field=sku_field,
            )
        path = qwc_file or Path(f"{done.store}.qwc")
        try:
            path.write_text(done.qwc, encoding="utf-8")
        except OSError as exc:
            fail(f"could not write {path}: {exc.strerror}")
        echo(f"connected store {done.store!r}: {done.reached}")
        echo(f"wrote {path}: open it in the Web Connector; user {done.user_name}")
        if done.password is not None:
            echo(f"Web Connector password (shown once): {done.password}")

    @commands.sandbox.command("qbwc")
    def sandbox(
        url: Annotated[str, typer.Option("--url", help="The service's /qbwc URL.")],
        user: Annotated[str, typer.Option("--user", help="The Web Connector user name.")],
        flavour: Annotated[str, typer.Option("--flavour", help="desktop or pos.")] = "desktop",
        items: Annotated[int, typer.Option("--items", help="Seed this many items.")] = 10,
        every: Annotated[
            float, typer.Option("--every", help="Seconds between updates (0: one update).")
        ] = 0,
    ) -> None:
        """Run a simulated Web Connector and QuickBooks Desktop or Point of Sale company
        against a running service; the password is read from standard input."""
        from stockbridge.connectors.qbwc.sandbox import DesktopCompany, PosCompany, WebConnector

        if flavour not in ("desktop", "pos"):
            fail("--flavour must be desktop or pos")
        password = sys.stdin.readline().rstrip("\r\n")
        company = DesktopCompany() if flavour == "desktop" else PosCompany()
        for n in range(items):
            company.add_item(f"SKU-{n:06d}", 100)
        connector = WebConnector(url, user, password, company)
        while True:
            log = connector.session()
            echo(
                f"update: {log.auth or 'signed in'}; {log.requests} request(s); "
                f"{log.ended}{'; ' + log.last_error if log.last_error else ''}"
            )
            if every <= 0:
                return
            time.sleep(every)
