"""Setting a store up from forms (the dashboard's setup pages and the API): connect the web
store with a BigCommerce API account, connect a feed as the back office after a look at
its first rows, and disconnect a connection.

The partner-specific parts of a form (which settings and secrets a BigCommerce or feed
connection takes) live here, not in the web layer, which names no partner. Every
connection goes through ``connect_partner``: the credentials are checked with one call
before anything is saved, and the secrets are stored encrypted. Secrets are never part
of a result, a message or a log line.

Where a form lets a user point the hub somewhere (a BigCommerce API URL other than the
real one, a folder on the hub's machine, an order-file destination), only an operator may
(``trusted``): a store's merchant could otherwise make the hub read its own files or send
the access token to an address of their choosing. A feed URL goes through the hub's
outbound policy (``outbound.guarded_transport``) like every URL a user chose.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.connectors.bigcommerce.client import DEFAULT_API_URL
from stockbridge.connectors.errors import PartnerAuthError, PartnerError
from stockbridge.connectors.feed import KIND as FEED_KIND
from stockbridge.connectors.feed import FeedBackOffice
from stockbridge.connectors.feed.formats import BadRecord, RawRecord, Unreadable, read_records
from stockbridge.connectors.feed.source_sftp import SftpSource
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.services.connections import connect_partner
from stockbridge.services.errors import ConnectFailed, InvalidSetting
from stockbridge.services.stores import find_store

__all__ = [
    "CONNECTION_ROLES",
    "PREVIEW_ROWS",
    "WEB_KIND",
    "Connected",
    "ConnectionNotFound",
    "Disconnected",
    "FeedForm",
    "FeedPreview",
    "PreviewRow",
    "connect_feed",
    "connect_web_store",
    "disconnect",
    "preview_feed",
]

WEB_KIND = "bigcommerce"
CONNECTION_ROLES = ("web", "back_office")
PREVIEW_ROWS = 5
#: A preview reads the first rows only: a larger file is not downloaded for it.
PREVIEW_MAX_MB = 50
MAX_SECRET = 4096
MAX_FIELD = 200
MAX_SOURCE = 2000


class ConnectionNotFound(InvalidSetting):
    """The store has no connection in that role."""


@dataclass(frozen=True)
class Connected:
    """A connection saved after its check: what the partner call reached."""

    store: str
    role: str
    kind: str
    reached: str


@dataclass(frozen=True)
class Disconnected:
    store: str
    role: str
    kind: str


def _text(value: str | None, what: str, limit: int = MAX_FIELD) -> str:
    text = (value or "").strip()
    if len(text) > limit or any(c in text for c in "\r\n\x00"):
        raise InvalidSetting(f"{what} is at most {limit} characters on one line")
    return text


def _secret(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidSetting(f"{what} is required")
    if len(text) > MAX_SECRET or not text.isprintable():
        raise InvalidSetting(f"{what} is at most {MAX_SECRET} printable characters")
    return text


def connect_web_store(
    hub: Hub,
    store: str,
    *,
    store_hash: str,
    access_token: str,
    api_url: str | None = None,
    trusted: bool = False,
) -> Connected:
    """Connect ``store``'s web store to BigCommerce with an API account's access token, as
    ``stockbridge connect bigcommerce`` does: the token is checked with one call first.
    ``api_url`` (another API address, e.g. the sandbox's) only when ``trusted``."""
    store_hash = _text(store_hash, "the store hash", 64)
    if not store_hash or not store_hash.isascii() or not store_hash.isalnum():
        raise InvalidSetting("the store hash is letters and digits only (from the API path)")
    token = _secret(access_token, "the access token")
    url = _text(api_url, "the API URL", MAX_SOURCE) or DEFAULT_API_URL
    if url != DEFAULT_API_URL:
        if not trusted:
            raise InvalidSetting("only an operator may point the hub at another API URL")
        if not url.startswith(("http://", "https://")):
            raise InvalidSetting("the API URL must start with http:// or https://")
    reached = connect_partner(
        hub,
        store,
        role="web",
        kind=WEB_KIND,
        settings={"store_hash": store_hash, "api_url": url.rstrip("/")},
        secrets={"access_token": token},
    )
    return Connected(store, "web", WEB_KIND, reached)


@dataclass(frozen=True)
class FeedForm:
    """A feed source as a form gives it. ``source``: https://..., sftp://user@host/path or
    a folder; ``auth`` none | bearer (``token``) | basic (``username``, ``password``);
    an SFTP source takes ``password``. Secrets are never shown back."""

    source: str
    format: str = "csv"
    sku_field: str = "sku"
    quantity_field: str = "quantity"
    location_field: str = "location"
    price_field: str = "price"
    name_field: str = "name"
    delimiter: str = ","
    missing: str = "keep"
    auth: str = "none"
    token: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    orders_to: str = ""

    def settings_and_secrets(self, *, trusted: bool) -> tuple[dict[str, Any], dict[str, str]]:
        """The connection's settings and secrets; ``InvalidSetting`` names a bad field."""
        source = _text(self.source, "the source", MAX_SOURCE)
        if not source:
            raise InvalidSetting("the source is required: a URL, sftp://... or a folder")
        remote = source.startswith(("http://", "https://", "sftp://"))
        if not remote and "://" in source:
            raise InvalidSetting("the source is https://..., sftp://... or a folder")
        if not remote and not trusted:
            raise InvalidSetting(
                "only an operator may read a folder on the hub's machine: give a URL or sftp://"
            )
        orders_to = _text(self.orders_to, "the order files destination", MAX_SOURCE)
        if orders_to and not trusted:
            raise InvalidSetting("only an operator may choose where order files are written")
        if self.format not in ("csv", "json"):
            raise InvalidSetting("the format is csv or json")
        if self.missing not in ("keep", "zero"):
            raise InvalidSetting("SKUs missing from a file: keep or zero")
        if self.auth not in ("none", "bearer", "basic"):
            raise InvalidSetting("authentication is none, bearer or basic")
        settings: dict[str, Any] = {
            "source": source,
            "format": self.format,
            "sku_field": _text(self.sku_field, "the SKU column") or "sku",
            "quantity_field": _text(self.quantity_field, "the quantity column") or "quantity",
            "location_field": _text(self.location_field, "the location column"),
            "price_field": _text(self.price_field, "the price column"),
            "name_field": _text(self.name_field, "the name column"),
            "delimiter": self.delimiter or ",",
            "missing": self.missing,
        }
        if len(settings["delimiter"]) != 1:
            raise InvalidSetting("the delimiter is one character")
        if orders_to:
            settings["orders_to"] = orders_to
        secrets: dict[str, str] = {}
        if self.auth != "none":
            if not source.startswith(("http://", "https://")):
                raise InvalidSetting("bearer and basic authentication are for URL sources")
            settings["auth"] = self.auth
            if self.auth == "bearer":
                secrets["token"] = _secret(self.token, "the bearer token")
            else:
                secrets["username"] = _secret(self.username, "the user name")
                secrets["password"] = _secret(self.password, "the password")
        elif source.startswith("sftp://") and self.password:
            secrets["password"] = _secret(self.password, "the password")
        return settings, secrets


@dataclass(frozen=True)
class PreviewRow:
    """One record of the file as read (raw values), or the reason it cannot be read."""

    line: int
    sku: str | None
    quantity: str | None
    location: str | None
    price: str | None
    name: str | None
    problem: str | None = None


@dataclass(frozen=True)
class FeedPreview:
    """The first rows of the file the source offers now (None: no file to read)."""

    source: str
    file: str | None
    rows: tuple[PreviewRow, ...]
    problem: str | None = None


def _shown(value: object) -> str | None:
    return None if value is None else str(value)[:MAX_FIELD]


def _row(record: RawRecord | BadRecord) -> PreviewRow:
    if isinstance(record, BadRecord):
        return PreviewRow(
            record.line, _shown(record.sku), None, _shown(record.location), None, None,
            record.reason,
        )  # fmt: skip
    line, sku, quantity, location, price, name = record
    return PreviewRow(
        line, _shown(sku), _shown(quantity), _shown(location), _shown(price), _shown(name)
    )


def preview_feed(
    hub: Hub, form: FeedForm, *, trusted: bool = False, limit: int = PREVIEW_ROWS
) -> FeedPreview:
    """Reach the source as the connection would (the hub's outbound policy included) and
    read the first ``limit`` records of the file it offers now. Saves nothing and marks
    nothing read: the connection's first sync reads the file as usual. A refusal or an
    unreachable source raises ``ConnectFailed``; a bad form ``InvalidSetting``."""
    settings, secrets = form.settings_and_secrets(trusted=trusted)
    settings = {**settings, "max_file_mb": PREVIEW_MAX_MB, "settle_seconds": 0}
    env = ConnectorEnv(
        settings=settings,
        vault=MemoryVault(secrets),
        limiters=hub.limiters,
        retry=hub.retry,
        outbound=hub.settings.outbound,
    )
    try:
        connector = hub.registry.create(FEED_KIND, env)
    except ValueError as exc:
        raise InvalidSetting(str(exc)) from None
    assert isinstance(connector, FeedBackOffice)
    if isinstance(connector.source, SftpSource):
        # Nothing is pinned yet (the vault is this preview's own): trust the key the
        # server shows for this one look, as connecting the feed will on first use.
        connector.source.endpoint = replace(connector.source.endpoint, trust_first_use=True)
    try:
        label = connector.source.label  # fetching reaches it: one download, no extra check
        files = connector.source.fetch()  # a generator: closed below, nothing accepted
        try:
            fetched = next(files, None)
            if fetched is None:
                return FeedPreview(label, None, (), "no file to read there yet")
            try:
                records = read_records(fetched.path, connector.format)
                rows = tuple(_row(r) for r in itertools.islice(records, limit))
            except Unreadable as exc:
                return FeedPreview(label, fetched.name, (), f"the file cannot be read: {exc}")
            finally:
                fetched.cleanup()
        finally:
            close = getattr(files, "close", None)
            if close is not None:
                close()
    except PartnerAuthError as exc:
        raise ConnectFailed(f"the source refused the credentials: {exc.message}") from exc
    except PartnerError as exc:
        raise ConnectFailed(f"could not read the source: {exc}") from exc
    finally:
        connector.close()
    return FeedPreview(label, fetched.name, rows)


def connect_feed(hub: Hub, store: str, form: FeedForm, *, trusted: bool = False) -> Connected:
    """Connect ``store``'s back office to a feed (checked by reaching it first)."""
    settings, secrets = form.settings_and_secrets(trusted=trusted)
    reached = connect_partner(
        hub, store, role="back_office", kind=FEED_KIND, settings=settings, secrets=secrets
    )
    return Connected(store, "back_office", FEED_KIND, reached)


def disconnect(hub: Hub, store: str, role: str) -> Disconnected:
    """Remove the store's web store or back office connection (its cursors and links go
    with it; runs and orders stay). A back office with suppliers is kept until they are
    disconnected (``disconnect_supplier``). ``ConnectionNotFound`` when there is none."""
    if role not in CONNECTION_ROLES:
        raise InvalidSetting(f"the role is one of {', '.join(CONNECTION_ROLES)}")
    with hub.uow() as uow:
        found = find_store(uow, store)
        connection = uow.stores.connection(found.id, role)
        if connection is None:
            what = "web store" if role == "web" else "back office"
            raise ConnectionNotFound(f"store {found.name!r} has no {what} connection")
        if role == "back_office" and uow.sources.suppliers(found.id):
            raise InvalidSetting(
                "the store's suppliers post through its back office: disconnect them first"
            )
        kind = connection.kind
        uow.stores.disconnect(connection)
        uow.commit()
        return Disconnected(found.name, role, kind)
