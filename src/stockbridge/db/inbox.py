"""The inbox: incoming events stored durably before they are acknowledged, and input the
hub refused, kept with the reason."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stockbridge.db.models import InboxEvent, RejectedInput, UtcDateTime

__all__ = ["InboxRepository"]

MAX_PAYLOAD_TEXT = 4000


class InboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Store a batch of events (dicts with store_id, source, dedup_key, kind, payload);
        for each, False when it was already in the inbox (or earlier in this batch).

        One look-up of the batch's keys and one driver-level executemany: the hot path of
        webhook ingestion. A concurrent writer inserting the same event in between is
        absorbed by ``ON CONFLICT DO NOTHING`` (the event is stored once either way).
        """
        seen: set[tuple[int, str, str]] = set()
        keys = [(e["store_id"], e["source"], e["dedup_key"]) for e in events]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.session.execute(
                select(InboxEvent.store_id, InboxEvent.source, InboxEvent.dedup_key).where(
                    InboxEvent.dedup_key.in_([k[2] for k in chunk])
                )
            ).all()
            seen.update((r[0], r[1], r[2]) for r in rows)
        fresh: list[dict[str, Any]] = []
        results: list[bool] = []
        for key, event in zip(keys, events, strict=True):
            if key in seen:
                results.append(False)
                continue
            seen.add(key)
            fresh.append(event)
            results.append(True)
        if fresh:
            connection = self.session.connection()
            dialect = connection.dialect
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            to_db = UtcDateTime.bind_processor(dialect)
            now: Any = datetime.now(UTC)
            now = to_db(now) if to_db else now
            connection.exec_driver_sql(
                "INSERT INTO inbox_events (store_id, source, dedup_key, kind, payload, "
                f"received_at, attempts) VALUES ({', '.join([mark] * 6)}, 0) "
                "ON CONFLICT (store_id, source, dedup_key) DO NOTHING",
                [
                    (
                        e["store_id"],
                        e["source"],
                        e["dedup_key"],
                        e["kind"],
                        json.dumps(e["payload"]),
                        now,
                    )
                    for e in fresh
                ],
            )
        return results

    def pending(self, limit: int = 500) -> Sequence[InboxEvent]:
        """Unprocessed events, oldest first, locked until the transaction ends. On
        PostgreSQL, events another worker has locked are skipped, so several workers drain
        the inbox side by side without taking the same event (SQLite's one writer makes
        that moot there)."""
        return self.session.scalars(
            select(InboxEvent)
            .where(InboxEvent.processed_at.is_(None))
            .order_by(InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()

    def mark_processed(self, event_ids: Sequence[int], error: str | None = None) -> None:
        if event_ids:
            self.session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(event_ids)))
                .values(
                    processed_at=datetime.now(UTC),
                    error=error,
                    attempts=InboxEvent.attempts + 1,
                )
            )

    def depth(self) -> int:
        return int(
            self.session.scalar(
                select(func.count(InboxEvent.id)).where(InboxEvent.processed_at.is_(None))
            )
            or 0
        )

    def reject(
        self, store_id: int | None, *, source: str, reason: str, payload: str | None
    ) -> None:
        self.session.add(
            RejectedInput(
                store_id=store_id,
                source=source,
                reason=reason[:2000],
                payload=None if payload is None else payload[:MAX_PAYLOAD_TEXT],
                received_at=datetime.now(UTC),
            )
        )

    def rejected(self, store_id: int | None, limit: int = 100) -> Sequence[RejectedInput]:
        query = select(RejectedInput).order_by(RejectedInput.id.desc()).limit(limit)
        if store_id is not None:
            query = query.where(RejectedInput.store_id == store_id)
        return self.session.scalars(query).all()
