"""Connecting a store to a partner: the credentials are checked with one cheap call
before anything is saved."""

from __future__ import annotations

from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.connectors.errors import PartnerAuthError, PartnerError
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.services.errors import ConnectFailed, InvalidSetting
from stockbridge.services.stores import resolve_store
from stockbridge.services.webhooks import events as webhook_events

__all__ = ["connect_partner"]


def _kept_on_reconnect(secret: str) -> bool:
    """Secrets the hub made itself survive connecting the partner again: the webhook
    secret (and, after a rotation, the previous one with its deadline:
    ``webhook_secret:*``), and the SFTP host keys it pinned (``sftp_host_key*``: a changed
    key must be confirmed, never trusted again silently on a reconnect)."""
    return secret.split(":", 1)[0] in ("webhook_secret", "sftp_host_key")


def connect_partner(
    hub: Hub,
    store_name: str | None,
    *,
    role: str,
    kind: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> str:
    """Check the credentials with one cheap call, then save the connection (secrets
    encrypted). Returns what the partner call reached (e.g. the store's name). Settings
    the connector refuses raise ``InvalidSetting``, a refusal or an unreachable partner
    ``ConnectFailed``; either way nothing is saved.
    """
    store_id = resolve_store(hub, store_name)
    with hub.uow() as uow:  # reconnecting keeps secrets the hub made itself (webhook secret)
        existing = uow.stores.connection(store_id, role)
        kept: dict[str, str] = {}
        if existing is not None and existing.kind == kind and existing.credentials:
            kept = hub.cipher.decrypt(existing.credentials)
    vault = MemoryVault({**{k: v for k, v in kept.items() if _kept_on_reconnect(k)}, **secrets})
    env = ConnectorEnv(
        settings=settings,
        vault=vault,
        limiters=hub.limiters,
        retry=hub.retry,
        outbound=hub.settings.outbound,
    )
    try:
        connector = hub.registry.create(kind, env)
    except ValueError as exc:  # the connector refused its settings
        raise InvalidSetting(str(exc)) from None
    expected = WebStore if role == "web" else BackOffice
    if not isinstance(connector, expected):
        raise InvalidSetting(f"{kind} is not a {role.replace('_', ' ')} connector")
    try:
        reached = connector.check()
        if isinstance(connector, WebStore):
            for note in connector.maintain():  # e.g. register webhooks
                reached += f"; {note}"
    except PartnerAuthError as exc:
        raise ConnectFailed(f"{kind} refused the credentials: {exc.message}") from exc
    except PartnerError as exc:
        raise ConnectFailed(f"could not reach {kind}: {exc}") from exc
    with hub.uow() as uow:
        uow.stores.connect(
            store_id,
            role=role,
            kind=kind,
            settings=settings,
            credentials=hub.cipher.encrypt(vault.secrets),  # as rotated by the check, if at all
        )
        uow.commit()
        store = uow.stores.get(store_id)
        name = store.name if store is not None else None
    if name is not None:  # this process's webhook receivers read the new secrets at once
        webhook_events(hub).changed(kind, name)
    return reached
