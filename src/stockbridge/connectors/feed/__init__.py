"""ERP and POS feeds: stock from a CSV or JSON file at a URL, in a folder or on an SFTP
server; web orders out as files. ``make_back_office(env)`` is the factory registered
under the connection kind ``feed``.

Layout: ``sources`` (URL / folder / SFTP, conditional fetches), ``formats`` (streaming
CSV and JSON readers), ``snapshot`` (validation and staging on disk), ``order_files``
(atomic order files; ``sftp_orders`` over SFTP), ``safe_files`` (never through a link
planted in a shared folder), ``sftp`` (asyncssh behind a blocking facade, host keys),
``connector`` (the back office), ``cli`` (``stockbridge connect feed``).

Settings (the connection's): ``source`` (https://..., a folder path, sftp://...);
``format`` csv | json; ``delimiter``; ``header``; ``encoding`` auto | utf-8 | latin-1;
``json_path``; ``sku_field``, ``quantity_field``, ``location_field``, ``price_field``,
``name_field``; ``missing`` keep | zero; ``max_bad_share`` (default 0.05); for a folder
``files`` newest | all, ``pattern``, ``settle_seconds``; for a URL ``auth`` none |
bearer | basic | header and ``auth_header`` (credentials never leave the URL's origin on
a redirect); ``orders_to`` (a folder or sftp://...) and
``orders_format`` json | csv; ``max_file_mb`` (largest download, default 2048).
Secrets: ``token``, ``username``, ``password``, ``header_value``, ``sftp_key``; the hub
adds ``sftp_host_key:<host>:<port>`` for each SFTP server it reaches (the source's and
the orders destination's, pinned separately) and the last applied file's ETag /
Last-Modified / signature.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from stockbridge.connectors.feed.connector import FeedBackOffice
from stockbridge.connectors.feed.formats import FeedFormat
from stockbridge.connectors.feed.order_files import FolderDestination, OrderDestination
from stockbridge.connectors.feed.sftp import SftpEndpoint, parse_sftp_url
from stockbridge.connectors.feed.sftp_orders import SftpDestination
from stockbridge.connectors.feed.sources import FolderSource, HttpSource, SftpSource, Source
from stockbridge.connectors.registry import ConnectorEnv

__all__ = ["KIND", "FeedBackOffice", "feed_format", "make_back_office"]

KIND = "feed"
AUTH_KINDS = ("none", "bearer", "basic", "header")


def _optional(settings: Any, key: str, default: str | None) -> str | None:
    if key not in settings:
        return default
    value = settings[key]
    return str(value) if value not in (None, "") else None


def feed_format(settings: Any) -> FeedFormat:
    """The file layout from a connection's settings; ValueError names a bad one."""
    return FeedFormat(
        kind=str(settings.get("format") or "csv"),
        delimiter=str(settings.get("delimiter") or ","),
        header=bool(settings.get("header", True)),
        encoding=str(settings.get("encoding") or "auto"),
        json_path=str(settings.get("json_path") or ""),
        sku_field=str(settings.get("sku_field") or "sku"),
        quantity_field=str(settings.get("quantity_field") or "quantity"),
        location_field=_optional(settings, "location_field", "location"),
        price_field=_optional(settings, "price_field", "price"),
        name_field=_optional(settings, "name_field", "name"),
    )


def _source(env: ConnectorEnv) -> Source:
    settings = env.settings
    where = str(settings.get("source") or "")
    if not where:
        raise ValueError("a feed connection needs its source (a URL, a folder or sftp://...)")
    max_mb = float(settings.get("max_file_mb", 2048))
    if max_mb <= 0:
        raise ValueError("max_file_mb must be above 0")
    max_bytes = int(max_mb * 1024**2)
    if where.startswith(("http://", "https://")):
        auth = str(settings.get("auth") or "none")
        if auth not in AUTH_KINDS:
            raise ValueError(f"auth must be one of {', '.join(AUTH_KINDS)}")
        header = settings.get("auth_header") or None
        if auth == "header" and not header:
            raise ValueError("auth header needs the header's name (auth_header)")
        return HttpSource(
            url=where,
            # HttpSource follows redirects itself; each hop's connection is policy-checked.
            client=env.user_http_client(where, follow_redirects=False),
            vault=env.vault,
            retry=env.retry,
            auth=auth,
            auth_header=header,
            max_bytes=max_bytes,
        )
    if where.startswith("sftp://"):
        endpoint = replace(parse_sftp_url(where), legacy_host_key=True, outbound=env.outbound)
        return SftpSource(endpoint, env.vault, max_bytes=max_bytes)
    if "://" in where:
        raise ValueError(f"unsupported source {where!r}: use http(s)://, sftp:// or a folder")
    files = str(settings.get("files") or "newest")
    if files not in ("newest", "all"):
        raise ValueError("files must be newest or all")
    return FolderSource(
        Path(where),
        pattern=str(settings.get("pattern") or "*"),
        files=files,
        settle_seconds=float(settings.get("settle_seconds", 5.0)),
    )


def _orders(env: ConnectorEnv) -> OrderDestination | None:
    where = str(env.settings.get("orders_to") or "")
    if not where:
        return None
    if where.startswith("sftp://"):
        endpoint = replace(parse_sftp_url(where), outbound=env.outbound)
        # The single host key of earlier versions belongs to the source's server, or
        # to this one when the source is not on SFTP.
        source = str(env.settings.get("source") or "")
        if not source.startswith("sftp://") or _same_server(parse_sftp_url(source), endpoint):
            endpoint = replace(endpoint, legacy_host_key=True)
        return SftpDestination(endpoint, env.vault)
    if "://" in where:
        raise ValueError(f"unsupported orders destination {where!r}: a folder or sftp://")
    return FolderDestination(Path(where))


def _same_server(a: SftpEndpoint, b: SftpEndpoint) -> bool:
    return a.host_key_secret == b.host_key_secret


def make_back_office(env: ConnectorEnv) -> FeedBackOffice:
    """Build the connector for one feed from a connection's settings."""
    settings = env.settings
    missing = str(settings.get("missing") or "keep")
    if missing not in ("keep", "zero"):
        raise ValueError("missing must be keep or zero")
    return FeedBackOffice(
        _source(env),
        feed_format(settings),
        zero_missing=missing == "zero",
        max_bad_share=float(settings.get("max_bad_share", 0.05)),
        orders=_orders(env),
        orders_format=str(settings.get("orders_format") or "json"),
        max_orders_per_call=int(settings.get("batch_size", 50)),
    )
