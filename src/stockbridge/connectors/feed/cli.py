"""``stockbridge connect feed``: a store's back office (or its ERP) as a file feed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stockbridge.cli.common import PartnerCommands, echo, mapped_errors, secret_value
from stockbridge.connectors.feed import KIND
from stockbridge.connectors.feed.sftp import is_fingerprint, parse_sftp_url
from stockbridge.domain.schedule import STOCK_STEPS
from stockbridge.services.connections import connect_partner
from stockbridge.services.schedules import set_schedule

__all__ = ["register"]

KEEP_OFF = "; by default read with {o}-stdin or from ${e} (on the command line it warns)"


def register(commands: PartnerCommands) -> None:
    @commands.connect.command("feed")
    def connect_feed(
        ctx: typer.Context,
        source: Annotated[
            str,
            typer.Option(
                "--source", help="https://... URL, a folder, or sftp://user@host[:port]/path."
            ),
        ],
        store: Annotated[
            str | None, typer.Option("--store", help="Store name; optional when only one exists.")
        ] = None,
        supplier: Annotated[
            str | None,
            typer.Option(
                "--supplier",
                help="Connect the feed as a supplier of this name (a supplementary stock "
                "source beside the store's back office) instead of as the back office.",
            ),
        ] = None,
        owns: Annotated[
            str | None,
            typer.Option(
                "--owns",
                help="Supplier: the SKUs it owns, a pattern such as ACME-* (default: the "
                "SKUs its feed lists).",
            ),
        ] = None,
        file_format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
        sku_field: Annotated[str, typer.Option("--sku-field", help="SKU column.")] = "sku",
        quantity_field: Annotated[
            str, typer.Option("--quantity-field", help="Quantity column.")
        ] = "quantity",
        location_field: Annotated[
            str, typer.Option("--location-field", help="Location column ('' for none).")
        ] = "location",
        price_field: Annotated[
            str, typer.Option("--price-field", help="Price column ('' for none).")
        ] = "price",
        name_field: Annotated[
            str, typer.Option("--name-field", help="Name column ('' for none).")
        ] = "name",
        delimiter: Annotated[str, typer.Option("--delimiter", help="CSV delimiter.")] = ",",
        no_header: Annotated[
            bool,
            typer.Option("--no-header", help="CSV without a header row: fields are positions."),
        ] = False,
        encoding: Annotated[
            str, typer.Option("--encoding", help="auto, utf-8 or latin-1.")
        ] = "auto",
        json_path: Annotated[
            str, typer.Option("--json-path", help="Dotted path to the records' array.")
        ] = "",
        missing: Annotated[
            str, typer.Option("--missing", help="SKUs absent from a feed: keep or zero.")
        ] = "keep",
        max_bad_share: Annotated[
            float,
            typer.Option(
                "--max-bad-share", min=0.0, max=0.99, help="Reject a file above this share."
            ),
        ] = 0.05,
        files: Annotated[
            str, typer.Option("--files", help="Folder: newest (default) or all.")
        ] = "newest",
        pattern: Annotated[str, typer.Option("--pattern", help="Folder: file name pattern.")] = "*",
        settle_seconds: Annotated[
            float,
            typer.Option("--settle-seconds", min=0.0, help="Folder: skip files this fresh."),
        ] = 5.0,
        every: Annotated[
            int | None,
            typer.Option(
                "--every", min=1, max=1440, help="Pull (and push changes) every N minutes."
            ),
        ] = None,
        orders_to: Annotated[
            str | None,
            typer.Option("--orders-to", help="Write web orders as files: a folder or sftp://."),
        ] = None,
        orders_format: Annotated[
            str, typer.Option("--orders-format", help="Order files: json or csv.")
        ] = "json",
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                envvar="STOCKBRIDGE_FEED_TOKEN",
                help="Bearer token" + KEEP_OFF.format(o="--token", e="STOCKBRIDGE_FEED_TOKEN"),
            ),
        ] = None,
        token_stdin: Annotated[
            bool, typer.Option("--token-stdin", help="Read the bearer token from stdin.")
        ] = False,
        username: Annotated[
            str | None, typer.Option("--username", help="Basic auth user (URL feeds).")
        ] = None,
        password: Annotated[
            str | None,
            typer.Option(
                "--password",
                envvar="STOCKBRIDGE_FEED_PASSWORD",
                help="Basic auth or SFTP password"
                + KEEP_OFF.format(o="--password", e="STOCKBRIDGE_FEED_PASSWORD"),
            ),
        ] = None,
        password_stdin: Annotated[
            bool,
            typer.Option(
                "--password-stdin", help="Read the password from stdin (after a token's line)."
            ),
        ] = False,
        header: Annotated[
            str | None,
            typer.Option(
                "--header",
                envvar="STOCKBRIDGE_FEED_HEADER",
                help="A custom auth header, 'Name: value'"
                + KEEP_OFF.format(o="--header", e="STOCKBRIDGE_FEED_HEADER"),
            ),
        ] = None,
        header_stdin: Annotated[
            bool,
            typer.Option(
                "--header-stdin", help="Read the header from stdin (after the password's line)."
            ),
        ] = False,
        sftp_key: Annotated[
            Path | None,
            typer.Option("--sftp-key", help="SFTP private key file (OpenSSH format)."),
        ] = None,
        sftp_host_key: Annotated[
            str | None,
            typer.Option(
                "--sftp-host-key",
                help="The SFTP server's public host key (the source's, else the orders "
                "destination's; else the first one seen).",
            ),
        ] = None,
        trust_host_key: Annotated[
            list[str] | None,
            typer.Option(
                "--trust-host-key",
                help="Trust an SFTP server's host key with this fingerprint (SHA256:..., "
                "as shown when it changed, or read off the server beforehand).",
            ),
        ] = None,
    ) -> None:
        """Connect a store's back office, or a supplier, to a stock feed (checks it can be
        reached)."""
        if supplier is None and owns is not None:
            raise typer.BadParameter("is for suppliers: give --supplier NAME", param_hint="--owns")
        if supplier is not None and orders_to:
            raise typer.BadParameter(
                "orders post to the store's back office only, never to a supplier",
                param_hint="--orders-to",
            )
        settings: dict[str, Any] = {
            "source": source,
            "format": file_format,
            "sku_field": sku_field,
            "quantity_field": quantity_field,
            "location_field": location_field,
            "price_field": price_field,
            "name_field": name_field,
            "delimiter": delimiter,
            "header": not no_header,
            "encoding": encoding,
            "json_path": json_path,
            "missing": missing,
            "max_bad_share": max_bad_share,
            "files": files,
            "pattern": pattern,
            "settle_seconds": settle_seconds,
            "orders_format": orders_format,
        }
        if orders_to:
            settings["orders_to"] = orders_to
        token, password, header = (
            secret_value(
                ctx, name, value, option=f"--{name}", env=env, from_stdin=stdin, required=False
            )
            for name, value, env, stdin in (
                ("token", token, "STOCKBRIDGE_FEED_TOKEN", token_stdin),
                ("password", password, "STOCKBRIDGE_FEED_PASSWORD", password_stdin),
                ("header", header, "STOCKBRIDGE_FEED_HEADER", header_stdin),
            )
        )
        secrets: dict[str, str] = {}
        if token is not None:
            settings["auth"] = "bearer"
            secrets["token"] = token
        elif header is not None:
            name, sep, value = header.partition(":")
            if not sep or not name.strip():
                raise typer.BadParameter("'Name: value'", param_hint="--header")
            settings["auth"], settings["auth_header"] = "header", name.strip()
            secrets["header_value"] = value.strip()
        elif username is not None and source.startswith(("http://", "https://")):
            settings["auth"] = "basic"
            secrets["username"] = username
        if password is not None:
            secrets["password"] = password
        if sftp_key is not None:
            try:
                secrets["sftp_key"] = sftp_key.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise typer.BadParameter(
                    f"cannot read it: {exc}", param_hint="--sftp-key"
                ) from None
        if sftp_host_key:
            pinned = next((w for w in (source, orders_to or "") if w.startswith("sftp://")), "")
            if not pinned:
                raise typer.BadParameter(
                    "needs an sftp:// source or --orders-to", param_hint="--sftp-host-key"
                )
            try:
                server = parse_sftp_url(pinned)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--source") from None
            secrets[server.host_key_secret] = sftp_host_key.strip()
        secrets.update(_trusted(trust_host_key or [], source, orders_to))
        with mapped_errors():
            hub = commands.hub()
            reached = connect_partner(
                hub,
                store,
                role="back_office" if supplier is None else "supplier",
                kind=KIND,
                settings=settings,
                secrets=secrets,
                supplier=supplier,
                owns=owns,
            )
            echo(f"connected to {reached}")
            if every is not None:
                set_schedule(hub, store, every_minutes=every, step=STOCK_STEPS)
                echo(f"pulling the feed every {every} minute(s)")


def _trusted(fingerprints: list[str], *where: str | None) -> dict[str, str]:
    """The confirmation secrets for ``--trust-host-key``: the fingerprints, offered to
    each SFTP server of the feed (each server accepts only the one its key has, once)."""
    if not fingerprints:
        return {}
    bad = [f for f in fingerprints if not is_fingerprint(f.strip())]
    if bad:
        raise typer.BadParameter(
            f"{bad[0]!r} is not a fingerprint like SHA256:<43 characters>",
            param_hint="--trust-host-key",
        )
    try:
        servers = [parse_sftp_url(w) for w in where if w and w.startswith("sftp://")]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--source") from None
    if not servers:
        raise typer.BadParameter(
            "needs an sftp:// source or --orders-to", param_hint="--trust-host-key"
        )
    joined = " ".join(f.strip() for f in fingerprints)
    return {server.trust_secret: joined for server in servers}
