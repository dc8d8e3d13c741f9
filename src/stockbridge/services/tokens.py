"""API tokens: shown once when created; only their hash is kept."""

from __future__ import annotations

from stockbridge.bootstrap import Hub
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.stores import find_store

__all__ = ["create_token"]


def create_token(hub: Hub, store_name: str | None, *, operator: bool) -> str:
    """A new API token for one store, or for every store (``operator``)."""
    if operator == (store_name is not None):
        raise InvalidSetting("give either --store NAME or --operator")
    with hub.uow() as uow:
        store_id = None if operator else find_store(uow, store_name).id
        token = uow.tokens.create(store_id, label="operator" if operator else store_name)
        uow.commit()
        return token
