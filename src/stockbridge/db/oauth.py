"""One-time OAuth values (``oauth_grants``): created, then used at most once.

Only SHA-256 hashes of the values are stored. ``use`` takes a value with one conditional
``UPDATE ... WHERE used_at IS NULL AND expires_at > now``: of two processes (or two
requests) presenting the same value, exactly one gets it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from stockbridge.db.models import OAuthGrant

__all__ = ["OAuthGrantRepository", "hash_value"]

#: Rows are deleted this long after they expired (the command line reads a link's outcome
#: until then).
KEEP_AFTER_EXPIRY = timedelta(days=1)


def hash_value(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class OAuthGrantRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        value: str,
        *,
        purpose: str,
        kind: str,
        store_id: int,
        lifetime: timedelta,
        binding: str | None = None,
        link: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Keep ``value`` (hashed) for ``lifetime``; ``binding`` and ``link`` are hashed
        too. Rows long expired are deleted on the way."""
        now = now or datetime.now(UTC)
        self.session.execute(
            delete(OAuthGrant).where(OAuthGrant.expires_at < now - KEEP_AFTER_EXPIRY)
        )
        self.session.add(
            OAuthGrant(
                id_hash=hash_value(value),
                purpose=purpose,
                kind=kind,
                store_id=store_id,
                binding_hash=None if binding is None else hash_value(binding),
                link_hash=None if link is None else hash_value(link),
                created_at=now,
                expires_at=now + lifetime,
            )
        )

    def get(self, value: str, purpose: str) -> OAuthGrant | None:
        return self.session.scalar(
            select(OAuthGrant).where(
                OAuthGrant.id_hash == hash_value(value), OAuthGrant.purpose == purpose
            )
        )

    def use(self, value: str, purpose: str, now: datetime | None = None) -> bool:
        """Mark ``value`` used if it is unused and unexpired; True only for the one caller
        that did."""
        now = now or datetime.now(UTC)
        result = self.session.execute(
            update(OAuthGrant)
            .where(
                OAuthGrant.id_hash == hash_value(value),
                OAuthGrant.purpose == purpose,
                OAuthGrant.used_at.is_(None),
                OAuthGrant.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def finish_link(self, link_hash: str, outcome: str, detail: str) -> None:
        """Write how the consent started from a link ended (for the waiting command)."""
        self.session.execute(
            update(OAuthGrant)
            .where(OAuthGrant.id_hash == link_hash, OAuthGrant.purpose == "link")
            .values(outcome=outcome, detail=detail)
            .execution_options(synchronize_session=False)
        )
