"""API tokens: shown once when created; only their hash is kept. A token may expire, and a
revoked or expired token is refused from its next request on (nothing caches tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stockbridge.bootstrap import Hub
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.stores import find_store

__all__ = ["MAX_TOKEN_DAYS", "TokenInfo", "create_token", "list_tokens", "revoke_token"]

MAX_TOKEN_DAYS = 3650


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One API token as listed (never the secret). state: live | revoked | expired."""

    id: int
    store: str | None
    state: str
    created_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


def create_token(
    hub: Hub, store_name: str | None, *, operator: bool, expires_in_days: int | None = None
) -> str:
    """A new API token for one store, or for every store (``operator``), valid for
    ``expires_in_days`` days or until revoked."""
    if operator == (store_name is not None):
        raise InvalidSetting("give either --store NAME or --operator")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidSetting(f"--expires-in takes 1-{MAX_TOKEN_DAYS} days")
    now = datetime.now(UTC)
    expires_at = None if expires_in_days is None else now + timedelta(days=expires_in_days)
    with hub.uow() as uow:
        store_id = None if operator else find_store(uow, store_name).id
        token = uow.tokens.create(
            store_id, label="operator" if operator else store_name, expires_at=expires_at
        )
        uow.commit()
        return token


def list_tokens(hub: Hub) -> list[TokenInfo]:
    """Every API token: id, scope, state and when it was created, last used, expires or was
    revoked."""
    now = datetime.now(UTC)
    with hub.uow() as uow:
        uow.read_only()
        names = {store.id: store.name for store in uow.stores.all()}
        return [
            TokenInfo(
                id=t.id,
                store=None if t.store_id is None else names.get(t.store_id),
                state=_state(t.revoked_at, t.expires_at, now),
                created_at=t.created_at,
                last_used_at=t.last_used_at,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
            )
            for t in uow.tokens.all()
        ]


def _state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:  # UtcDateTime loads aware UTC
        return "expired"
    return "live"


def revoke_token(hub: Hub, token_id: int) -> None:
    """Revoke a token at once: its next request gets 401. ``InvalidSetting`` for an unknown
    id."""
    with hub.uow() as uow:
        if uow.tokens.revoke(token_id, datetime.now(UTC)) is None:
            raise InvalidSetting(f"no API token with id {token_id} (see: stockbridge token list)")
        uow.commit()
