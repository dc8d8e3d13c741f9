"""Which connector serves which connection kind, and what a connector is given.

A factory takes a ``ConnectorEnv`` (the connection's settings, a vault holding its
secrets, the process's rate limiters) and returns a ``WebStore`` or ``BackOffice``. A
kind whose partner pushes events also registers its ``WebhookAdapter``: deliveries to
``/webhooks/{kind}/{store}`` are verified and parsed by it. Partner packages register
themselves in ``bootstrap.default_registry``, one line each; the hub core (the web layer
included) knows no partner by name.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from stockbridge.connectors.base import BackOffice, WebhookAdapter, WebStore
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.outbound import OutboundPolicy, guarded_transport
from stockbridge.retry import RetryPolicy

__all__ = [
    "ConnectButton",
    "ConnectorEnv",
    "ConnectorFactory",
    "ConnectorMismatch",
    "ConnectorRegistry",
    "CredentialVault",
    "MemoryVault",
    "UnknownConnectorKind",
    "require_port",
]


class CredentialVault(Protocol):
    """Where a connection's secrets live (encrypted at rest in the hub database).

    ``update()`` yields the current secrets under an exclusive lock that other processes
    respect; changes made to the yielded dict are saved and committed when the block
    ends without an error, before the caller goes on. Use it for anything that rotates a
    secret (OAuth refresh tokens): read, refresh, save — atomically.
    """

    def load(self) -> dict[str, str]: ...

    def update(self) -> AbstractContextManager[dict[str, str]]: ...


@dataclass
class MemoryVault:
    """A vault for a connection not yet saved (``connect`` checks credentials first)."""

    secrets: dict[str, str]

    def load(self) -> dict[str, str]:
        return dict(self.secrets)

    @contextmanager
    def update(self) -> Iterator[dict[str, str]]:
        current = dict(self.secrets)
        yield current
        self.secrets = current


@dataclass(frozen=True)
class ConnectorEnv:
    """What a connector gets from the hub. ``transport`` replaces the network (tests may
    pass ``httpx.ASGITransport``); None means real HTTP. ``outbound`` is the hub's policy
    for URLs a user chose (``user_http_client``); strict unless the hub's settings allow
    more.
    """

    settings: Mapping[str, Any]
    vault: CredentialVault
    limiters: LimiterRegistry
    retry: RetryPolicy
    connection_id: int | None = None
    transport: httpx.BaseTransport | None = None
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)

    def user_http_client(self, url: str, **kwargs: Any) -> httpx.Client:
        """A client for a URL a user chose (a feed URL): every connection it opens, each
        redirect hop included, goes only where ``outbound`` allows."""
        transport = self.transport or guarded_transport(self.outbound, verify=_tls_context())
        return self.http_client(url, transport=transport, **kwargs)

    def http_client(self, base_url: str, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            transport=kwargs.pop("transport", self.transport),
            timeout=kwargs.pop("timeout", httpx.Timeout(30.0, connect=10.0)),
            verify=kwargs.pop("verify", _tls_context()),
            **kwargs,
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (certificate verification on, the CA bundle httpx uses) for every
    partner client in the process. Building one loads the whole CA bundle: ~30 ms of CPU
    that holds the interpreter lock, once per run otherwise, and every webhook receiver
    in the process would wait it out."""
    return httpx.create_ssl_context()


ConnectorFactory = Callable[[ConnectorEnv], WebStore | BackOffice]


@dataclass(frozen=True)
class ConnectButton:
    """A partner's own connect flow (e.g. OAuth consent), offered on a store's dashboard
    page for the connection in ``role``: a link to ``start_path?store=<name>`` (GET) and a
    form posting to ``disconnect_path?store=<name>`` (with the dashboard's CSRF token)."""

    kind: str
    role: str
    label: str
    start_path: str
    disconnect_path: str


class UnknownConnectorKind(LookupError):
    """No connector is registered for a connection's kind."""


@dataclass
class ConnectorRegistry:
    factories: dict[str, ConnectorFactory] = field(default_factory=dict)
    #: kind -> the module holding its ``register(commands)`` for ``stockbridge connect``
    #: and ``stockbridge sandbox``; only the command line imports it.
    commands: dict[str, str] = field(default_factory=dict)
    #: kind -> its webhook adapter, for the kinds whose partner delivers webhooks.
    webhooks: dict[str, WebhookAdapter] = field(default_factory=dict)
    #: kind -> the module holding its ``routes(hub, queue) -> fastapi.APIRouter``: the
    #: partner's own pages and callbacks (OAuth consent callbacks, app install, load and
    #: uninstall); only the web application imports it, by name.
    web_routes: dict[str, str] = field(default_factory=dict)
    #: kind -> its connect button on the dashboard (a partner with a consent flow).
    connect_buttons: dict[str, ConnectButton] = field(default_factory=dict)
    #: kind -> the partner's name as the merchant knows it ("QuickBooks Online"), for
    #: the dashboard's back-office bar; a kind without one shows as itself.
    titles: dict[str, str] = field(default_factory=dict)

    def register(
        self,
        kind: str,
        factory: ConnectorFactory,
        *,
        commands: str | None = None,
        webhooks: WebhookAdapter | None = None,
        web_routes: str | None = None,
        connect_button: ConnectButton | None = None,
        title: str | None = None,
    ) -> None:
        """Serve connections of ``kind`` with ``factory``; ``commands`` names the module of
        its CLI commands; with ``webhooks``, also accept that partner's deliveries at
        ``/webhooks/{kind}/{store}``; ``web_routes`` names the module whose
        ``routes(hub, queue)`` adds the partner's own HTTP routes to the service;
        ``connect_button`` offers its connect flow on the dashboard; ``title`` is the
        partner's name as the merchant knows it."""
        if webhooks is not None and webhooks.kind != kind:
            raise ValueError(f"the webhook adapter of {kind!r} says it is {webhooks.kind!r}")
        self.factories[kind] = factory
        if commands is not None:
            self.commands[kind] = commands
        if webhooks is not None:
            self.webhooks[kind] = webhooks
        if web_routes is not None:
            self.web_routes[kind] = web_routes
        if connect_button is not None:
            self.connect_buttons[kind] = connect_button
        if title is not None:
            self.titles[kind] = title

    def title(self, kind: str) -> str:
        """The partner's name for the merchant (the kind itself when none is registered)."""
        return self.titles.get(kind, kind)

    def create(self, kind: str, env: ConnectorEnv) -> WebStore | BackOffice:
        try:
            factory = self.factories[kind]
        except KeyError:
            known = ", ".join(sorted(self.factories)) or "none"
            raise UnknownConnectorKind(f"no connector for kind {kind!r} (known: {known})") from None
        return factory(env)


class ConnectorMismatch(TypeError):
    """A connection's connector does not implement the port of the connection's role."""


#: A connection's role -> the port its connector implements (a supplier is a back office
#: that owns some SKUs' stock).
_PORTS: dict[str, type] = {"web": WebStore, "back_office": BackOffice, "supplier": BackOffice}


def require_port(connector: object, role: str, kind: str) -> None:
    """Raise ``ConnectorMismatch`` naming what ``connector`` lacks of ``role``'s port
    (a connector that does not fit is a broken installation, never "not connected")."""
    port = _PORTS.get(role)
    if port is None:
        raise ConnectorMismatch(f"connection of kind {kind!r} has an unknown role {role!r}")
    missing = [name for name in _members(port) if not hasattr(connector, name)]
    if missing:
        raise ConnectorMismatch(
            f"the {kind!r} connector ({type(connector).__name__}) is not a "
            f"{role.replace('_', ' ')} connector: it lacks {', '.join(missing)}"
        )


def _members(port: type) -> list[str]:
    """The attributes and methods a protocol class declares (its own and its bases')."""
    names: dict[str, None] = {}
    for cls in reversed(port.__mro__):
        if cls is object or cls is Protocol or cls.__module__ == "typing":
            continue
        for name in [*getattr(cls, "__annotations__", {}), *vars(cls)]:
            if not name.startswith("_"):
                names[name] = None
    return sorted(names)
