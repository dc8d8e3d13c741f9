"""API tokens: shown once when created; only their hash is kept. A token may expire, and a
revoked or expired token is refused from its next request on (nothing caches tokens).

Who mints tokens: operators (the CLI, an operator token through the API) and the
dashboard (a user for the stores they see). A store token mints none and revokes none but
itself: a leaked store token cannot make itself a successor that outlives its revocation,
nor lock its store's other integrations out. A token minted through the API by another
token (``parent``) never outlives it: its expiry is capped at the parent's, and revoking
the parent revokes it (and what it minted in turn)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stockbridge.bootstrap import Hub
from stockbridge.db.tokens import hash_token
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.stores import find_store
from stockbridge.services.token_limits import MAX_TOKEN_DAYS

__all__ = [
    "MAX_TOKEN_DAYS",
    "IssuedToken",
    "TokenInfo",
    "TokenNotFound",
    "create_token",
    "issue_token",
    "list_tokens",
    "revoke_token",
]


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


class TokenNotFound(InvalidSetting):
    """No such token, or one the caller may not see (the same answer: ids do not leak)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created: the secret (``token``) is in this result only, never again."""

    id: int
    store: str | None  # None: every store (an operator token)
    token: str
    expires_at: datetime | None


def create_token(
    hub: Hub, store_name: str | None, *, operator: bool, expires_in_days: int | None = None
) -> str:
    """A new API token for one store, or for every store (``operator``), valid for
    ``expires_in_days`` days or until revoked."""
    return issue_token(hub, store_name, operator=operator, expires_in_days=expires_in_days).token


def issue_token(
    hub: Hub,
    store_name: str | None,
    *,
    operator: bool,
    expires_in_days: int | None = None,
    parent_id: int | None = None,
) -> IssuedToken:
    """``create_token`` with the new token's id and scope. ``parent_id``: the token
    minting this one through the API; the new token expires no later than it and is
    revoked with it. Bad input raises ``InvalidSetting`` (an unknown store
    ``StoreNotFound``); nothing is saved then."""
    if operator == (store_name is not None):
        raise InvalidSetting("give either --store NAME or --operator")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidSetting(f"--expires-in takes 1-{MAX_TOKEN_DAYS} days")
    now = datetime.now(UTC)
    expires_at = None if expires_in_days is None else now + timedelta(days=expires_in_days)
    with hub.uow() as uow:
        if parent_id is not None:
            parent = uow.tokens.get(parent_id)
            if parent is None or parent.revoked_at is not None:
                raise TokenNotFound("the minting token is revoked")
            if parent.expires_at is not None and (
                expires_at is None or expires_at > parent.expires_at
            ):
                expires_at = parent.expires_at  # never outlives its parent
        store_id = None if operator else find_store(uow, store_name).id
        token = uow.tokens.create(
            store_id,
            label="operator" if operator else store_name,
            expires_at=expires_at,
            parent_id=parent_id,
        )
        uow.commit()
        row = uow.tokens.get_by_hash(hash_token(token))
        assert row is not None  # just committed
        return IssuedToken(row.id, None if operator else store_name, token, expires_at)


def list_tokens(hub: Hub, stores: Collection[str] | None = None) -> list[TokenInfo]:
    """Every API token: id, scope, state and when it was created, last used, expires or was
    revoked. With ``stores``: only the tokens of those stores (no operator token)."""
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
            if stores is None or (t.store_id is not None and names.get(t.store_id) in stores)
        ]


def _state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:  # UtcDateTime loads aware UTC
        return "expired"
    return "live"


def revoke_token(
    hub: Hub, token_id: int, stores: Collection[str] | None = None, *, only: int | None = None
) -> None:
    """Revoke a token at once, with every token it minted: their next request gets 401.
    ``TokenNotFound`` (an ``InvalidSetting``) for an unknown id, or, with ``stores``, for
    a token of another store or an operator token, or, with ``only`` (a store token
    revoking), for any token but that one: nothing changes then."""
    with hub.uow() as uow:
        row = uow.tokens.get(token_id)
        if only is not None and token_id != only:
            row = None
        if row is not None and stores is not None:
            store = None if row.store_id is None else uow.stores.get(row.store_id)
            if store is None or store.name not in stores:
                row = None
        if row is None:
            raise TokenNotFound(f"no API token with id {token_id} (see: stockbridge token list)")
        uow.tokens.revoke(token_id, datetime.now(UTC))
        uow.commit()
