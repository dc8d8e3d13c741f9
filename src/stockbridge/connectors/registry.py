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
from stockbridge.retry import RetryPolicy

__all__ = [
    "ConnectorEnv",
    "ConnectorFactory",
    "ConnectorRegistry",
    "CredentialVault",
    "MemoryVault",
    "UnknownConnectorKind",
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
    pass ``httpx.ASGITransport``); None means real HTTP.
    """

    settings: Mapping[str, Any]
    vault: CredentialVault
    limiters: LimiterRegistry
    retry: RetryPolicy
    connection_id: int | None = None
    transport: httpx.BaseTransport | None = None

    def http_client(self, base_url: str, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            transport=self.transport,
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


class UnknownConnectorKind(LookupError):
    """No connector is registered for a connection's kind."""


@dataclass
class ConnectorRegistry:
    factories: dict[str, ConnectorFactory] = field(default_factory=dict)
    #: kind -> its webhook adapter, for the kinds whose partner delivers webhooks.
    webhooks: dict[str, WebhookAdapter] = field(default_factory=dict)

    def register(
        self, kind: str, factory: ConnectorFactory, *, webhooks: WebhookAdapter | None = None
    ) -> None:
        """Serve connections of ``kind`` with ``factory``; with ``webhooks``, also accept
        that partner's deliveries at ``/webhooks/{kind}/{store}``."""
        if webhooks is not None and webhooks.kind != kind:
            raise ValueError(f"the webhook adapter of {kind!r} says it is {webhooks.kind!r}")
        self.factories[kind] = factory
        if webhooks is not None:
            self.webhooks[kind] = webhooks

    def create(self, kind: str, env: ConnectorEnv) -> WebStore | BackOffice:
        try:
            factory = self.factories[kind]
        except KeyError:
            known = ", ".join(sorted(self.factories)) or "none"
            raise UnknownConnectorKind(f"no connector for kind {kind!r} (known: {known})") from None
        return factory(env)
