"""API tokens (stored hashed) and idempotency records."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from stockbridge.db.models import ApiToken, IdempotencyRecord

__all__ = ["TokenRepository", "hash_token"]

TOKEN_PREFIX = "sbt_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        store_id: int | None,
        label: str | None = None,
        expires_at: datetime | None = None,
        parent_id: int | None = None,
    ) -> str:
        """A new random token; only its hash is kept. The token is returned once.
        ``parent_id``: the token that minted it (the caller caps the expiry)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.session.add(
            ApiToken(
                store_id=store_id,
                token_hash=hash_token(token),
                label=label,
                created_at=datetime.now(UTC),
                expires_at=expires_at,
                parent_id=parent_id,
            )
        )
        return token

    def find(self, token: str, now: datetime | None = None) -> ApiToken | None:
        """The token's row if it is live (not revoked, not expired at ``now``), or None.
        Looks up by hash: the secret itself is never compared or stored. Nothing caches
        the answer: a revocation holds from the next request on."""
        now = now or datetime.now(UTC)
        return self.session.scalar(
            select(ApiToken).where(
                ApiToken.token_hash == hash_token(token),
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            )
        )

    def all(self) -> Sequence[ApiToken]:
        """Every token, revoked and expired ones included, oldest first."""
        return self.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()

    def get_by_hash(self, token_hash: str) -> ApiToken | None:
        """A token's row by its hash, whatever its state."""
        return self.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))

    def get(self, token_id: int) -> ApiToken | None:
        """A token's row by id (revoked and expired ones too), or None."""
        return self.session.get(ApiToken, token_id)

    def revoke(self, token_id: int, now: datetime) -> ApiToken | None:
        """Revoke a token and every token it minted, theirs too (they stay listed); None
        if there is no such token. Revoking twice keeps the first time."""
        row = self.session.get(ApiToken, token_id)
        if row is None:
            return None
        pending = [row]
        while pending:
            token = pending.pop()
            if token.revoked_at is None:
                token.revoked_at = now
            pending.extend(
                self.session.scalars(select(ApiToken).where(ApiToken.parent_id == token.id))
            )
        return row

    def idempotent_answer(self, store_id: int, key: str) -> IdempotencyRecord | None:
        return self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.store_id == store_id, IdempotencyRecord.key == key
            )
        )

    def remember_answer(
        self, store_id: int, key: str, request_hash: str, status: int, response: dict[str, Any]
    ) -> None:
        self.session.add(
            IdempotencyRecord(
                store_id=store_id,
                key=key,
                request_hash=request_hash,
                status_code=status,
                response=response,
                created_at=datetime.now(UTC),
            )
        )
