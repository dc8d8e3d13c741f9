"""The inbox: incoming events stored durably before they are acknowledged, and input the
hub refused, kept with the reason."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, Engine, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stockbridge.db.models import InboxEvent, RejectedInput, UtcDateTime

__all__ = ["InboxAppender", "InboxRepository"]

MAX_PAYLOAD_TEXT = 4000
MAX_INSERT_ROWS = 500  # 6 parameters a row: well under SQLite's and PostgreSQL's limits
_Key = tuple[int, str, str]


class InboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Store a batch of events (dicts with store_id, source, dedup_key, kind, payload);
        for each, False when it was already in the inbox (or earlier in this batch)."""
        connection = self.session.connection()
        dialect = connection.dialect
        results: list[bool] = []
        for start in range(0, len(events), MAX_INSERT_ROWS):
            chunk = events[start : start + MAX_INSERT_ROWS]
            fresh, first = _first_of_each(chunk)
            stored: set[tuple[int, str, str]] = set()
            if fresh:
                sql, params = _insert_new(fresh, dialect.paramstyle, _db_now(dialect))
                stored = {(r[0], r[1], r[2]) for r in connection.exec_driver_sql(sql, params)}
            results += _outcomes(chunk, first, stored)
        return results

    def pending(self, limit: int = 500) -> Sequence[InboxEvent]:
        """Unprocessed events, oldest first, whole (for inspection; passes use
        ``pending_refs``)."""
        return self.session.scalars(
            select(InboxEvent)
            .where(InboxEvent.processed_at.is_(None))
            .order_by(InboxEvent.id)
            .limit(limit)
        ).all()

    def pending_refs(self, limit: int = 500) -> Sequence[tuple[int, int, str]]:
        """(id, store_id, kind) of the oldest pending events: what turning events into
        runs needs, without building an object or decoding a payload per event (this runs
        under the write lock that webhook receivers wait for). They stay locked until the
        transaction ends: on PostgreSQL, events another worker has locked are skipped, so
        several workers drain the inbox side by side without taking the same event."""
        rows = self.session.execute(
            select(InboxEvent.id, InboxEvent.store_id, InboxEvent.kind)
            .where(InboxEvent.processed_at.is_(None))
            .order_by(InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def payloads(self, event_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The stored payloads of these events, by id (the inbox pass reads them for
        inventory events only: they name the product and the change)."""
        found: dict[int, dict[str, Any]] = {}
        ids = list(event_ids)
        for start in range(0, len(ids), 500):
            for event_id, payload in self.session.execute(
                select(InboxEvent.id, InboxEvent.payload).where(
                    InboxEvent.id.in_(ids[start : start + 500])
                )
            ):
                found[event_id] = payload if isinstance(payload, dict) else {}
        return found

    def mark_processed(
        self, event_ids: Sequence[int], error: str | None = None, outcome: str | None = None
    ) -> None:
        ids = list(event_ids)
        for start in range(0, len(ids), 5000):
            self.session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(ids[start : start + 5000]))
                .values(
                    processed_at=datetime.now(UTC),
                    error=error,
                    outcome=outcome,
                    attempts=InboxEvent.attempts + 1,
                )
                # no objects to refresh: passes read plain rows (pending_refs)
                .execution_options(synchronize_session=False)
            )

    def outcomes(self, store_id: int, since: datetime) -> dict[str, int]:
        """How many of the store's events processed since ``since`` had each outcome
        ("echo", "run", "coalesced"): the dashboard's webhook figures."""
        rows = self.session.execute(
            select(InboxEvent.outcome, func.count(InboxEvent.id))
            .where(
                InboxEvent.store_id == store_id,
                InboxEvent.processed_at >= since,
                InboxEvent.outcome.is_not(None),
            )
            .group_by(InboxEvent.outcome)
        ).all()
        return {str(outcome): int(count) for outcome, count in rows}

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


class InboxAppender:
    """Stores batches of events over a database connection of its own, at driver level:
    one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` and a commit per batch.

    The hot path of webhook ingestion (``web.inbox_writer``): no session, no unit of work,
    no statement compiled per batch. Used by one thread at a time.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Any = None

    def append(self, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Like ``InboxRepository.add_many``, committed (at most MAX_INSERT_ROWS events)."""
        if len(events) > MAX_INSERT_ROWS:
            raise ValueError(f"at most {MAX_INSERT_ROWS} events a batch")
        dialect = self.engine.dialect
        fresh, first = _first_of_each(events)
        if self._connection is None:
            self._connection = self.engine.raw_connection()
        connection = self._connection
        dbapi_error = dialect.loaded_dbapi.Error
        statement = "BEGIN"
        try:
            cursor = connection.cursor()
            try:
                if dialect.name == "sqlite":  # autocommit mode: take the write lock now
                    cursor.execute("BEGIN IMMEDIATE")
                stored: set[_Key] = set()
                if fresh:
                    statement, params = _insert_new(fresh, dialect.paramstyle, _db_now(dialect))
                    cursor.execute(statement, params)
                    stored = {(r[0], r[1], r[2]) for r in cursor.fetchall()}
            finally:
                cursor.close()
            statement = "COMMIT"
            connection.commit()
        except BaseException as exc:
            with contextlib.suppress(dbapi_error):  # the connection may be broken for good
                self.close()  # in an unknown state: not reused
            if isinstance(exc, dbapi_error):  # as SQLAlchemy reports it everywhere else
                raise DBAPIError.instance(statement, None, exc, dbapi_error) from exc
            raise
        return _outcomes(events, first, stored)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.rollback()
            finally:
                connection.close()


def _first_of_each(events: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[bool]]:
    """The events whose key comes first in the batch, and for each event whether it is."""
    seen: set[_Key] = set()
    fresh: list[dict[str, Any]] = []
    first: list[bool] = []
    for e in events:
        key = (e["store_id"], e["source"], e["dedup_key"])
        is_first = key not in seen
        first.append(is_first)
        if is_first:
            seen.add(key)
            fresh.append(e)
    return fresh, first


def _outcomes(events: Sequence[dict[str, Any]], first: list[bool], stored: set[_Key]) -> list[bool]:
    return [
        is_first and (e["store_id"], e["source"], e["dedup_key"]) in stored
        for e, is_first in zip(events, first, strict=True)
    ]


def _db_now(dialect: Dialect) -> Any:
    to_db = UtcDateTime.bind_processor(dialect)
    now: Any = datetime.now(UTC)
    return to_db(now) if to_db else now


def _insert_new(
    events: Sequence[dict[str, Any]], paramstyle: str, now: Any
) -> tuple[str, tuple[Any, ...]]:
    """One multi-row insert that skips keys already stored and returns the keys it
    stored (a concurrent writer's event is absorbed by ON CONFLICT: stored once)."""
    mark = "?" if paramstyle == "qmark" else "%s"
    row = f"({mark}, {mark}, {mark}, {mark}, {mark}, {mark}, 0)"
    sql = (
        "INSERT INTO inbox_events (store_id, source, dedup_key, kind, payload, received_at, "
        f"attempts) VALUES {', '.join([row] * len(events))} "
        "ON CONFLICT (store_id, source, dedup_key) DO NOTHING "
        "RETURNING store_id, source, dedup_key"
    )
    params: list[Any] = []
    for e in events:
        params += (
            e["store_id"],
            e["source"],
            e["dedup_key"],
            e["kind"],
            json.dumps(e["payload"]),
            now,
        )
    return sql, tuple(params)
