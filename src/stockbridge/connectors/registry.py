"""Which connector class serves which connection kind.

A factory takes the connection's settings and decrypted credentials and returns a
``WebStore`` or ``BackOffice``. Partner packages register themselves here; the hub core
knows no partner by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stockbridge.connectors.base import BackOffice, WebStore

__all__ = ["ConnectorFactory", "ConnectorRegistry", "UnknownConnectorKind"]

ConnectorFactory = Callable[[Mapping[str, Any], Mapping[str, str]], WebStore | BackOffice]


class UnknownConnectorKind(LookupError):
    """No connector is registered for a connection's kind."""


@dataclass
class ConnectorRegistry:
    factories: dict[str, ConnectorFactory] = field(default_factory=dict)

    def register(self, kind: str, factory: ConnectorFactory) -> None:
        self.factories[kind] = factory

    def create(
        self, kind: str, settings: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> WebStore | BackOffice:
        try:
            factory = self.factories[kind]
        except KeyError:
            known = ", ".join(sorted(self.factories)) or "none"
            raise UnknownConnectorKind(f"no connector for kind {kind!r} (known: {known})") from None
        return factory(settings, credentials)
