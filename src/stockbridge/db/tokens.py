"""API tokens (stored hashed) and idempotency records."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockbridge.db.models import ApiToken, IdempotencyRecord

__all__ = ["TokenRepository", "hash_token"]

TOKEN_PREFIX = "sbt_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, store_id: int | None, label: str | None = None) -> str:
        """A new random token; only its hash is kept. The token is returned once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.session.add(
            ApiToken(
                store_id=store_id,
                token_hash=hash_token(token),
                label=label,
                created_at=datetime.now(UTC),
            )
        )
        return token

    def find(self, token: str) -> ApiToken | None:
        """The token's row, or None. Looks up by hash: the secret itself is never compared
        or stored."""
        return self.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))

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
