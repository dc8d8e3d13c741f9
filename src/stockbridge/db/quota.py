"""The partner quota ledger on PostgreSQL (``connectors.ratelimit.QuotaLedger``): what
each partner account was sent, what is in flight, its pause and its spacing, shared by
every process calling the account (scaled mode: any number of workers, any machines).

One short transaction per request start, serialised per account by a transaction-level
advisory lock (so two processes never both take the last place in a window), with the
database's clock as the one clock of every machine:

* windows: the requests started in the last ``seconds`` (``rate_limit_sent``); a full
  window answers the time until its oldest start leaves it;
* in flight: live tickets (``rate_limit_in_flight``), each expiring after
  ``TICKET_SECONDS`` so a process killed mid-request frees its place;
* ``not_before`` (a 429's pause) per account;
* ``budget`` until ``budget_until`` (migration 0021): what BigCommerce's headers say is
  left in its window (less a reserve), used by one per start; none left: wait for
  ``budget_until``. A report within the same window only lowers it (several processes'
  reports arrive out of order); one for a later window replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, text

from stockbridge.connectors.ratelimit import Window

__all__ = ["LEDGER_TABLES", "TICKET_SECONDS", "PostgresQuotaLedger"]

#: The ledger's tables (migration 0017, PostgreSQL only; no models: plain SQL here).
LEDGER_TABLES = ("rate_limit_accounts", "rate_limit_sent", "rate_limit_in_flight")

#: A request in flight longer than this (a process that died mid-request) stops counting.
TICKET_SECONDS = 120
#: How long to wait before asking again when the in-flight cap is reached.
IN_FLIGHT_POLL = 0.05


class PostgresQuotaLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def try_start(
        self, account: str, windows: Sequence[Window], max_in_flight: int | None
    ) -> tuple[float, int | None]:
        with self.engine.begin() as db:
            db.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('quota:' || :a))"), {"a": account}
            )
            row = db.execute(
                text(
                    "INSERT INTO rate_limit_accounts (account) VALUES (:a) "
                    "ON CONFLICT (account) DO UPDATE SET account = EXCLUDED.account "
                    "RETURNING extract(epoch FROM clock_timestamp()), "
                    "extract(epoch FROM not_before), budget, extract(epoch FROM budget_until)"
                ),
                {"a": account},
            ).one()
            now, not_before = float(row[0]), float(row[1])
            budgeted = row[2] is not None and row[3] is not None and float(row[3]) > now
            wait = not_before - now
            if budgeted and int(row[2]) <= 0:
                wait = max(wait, float(row[3]) - now)
            longest = 0.0
            for window in windows:
                longest = max(longest, window.seconds)
                oldest_in_full = db.execute(
                    text(
                        "SELECT extract(epoch FROM at) FROM rate_limit_sent "
                        "WHERE account = :a AND at > to_timestamp(:since) "
                        "ORDER BY at DESC OFFSET :n LIMIT 1"
                    ),
                    {"a": account, "since": now - window.seconds, "n": window.requests - 1},
                ).scalar()
                if oldest_in_full is not None:
                    wait = max(wait, float(oldest_in_full) + window.seconds - now)
            if max_in_flight is not None:
                flying = db.execute(
                    text(
                        "SELECT count(*) FROM rate_limit_in_flight "
                        "WHERE account = :a AND expires_at > to_timestamp(:now)"
                    ),
                    {"a": account, "now": now},
                ).scalar_one()
                if flying >= max_in_flight:
                    wait = max(wait, IN_FLIGHT_POLL)
            if wait > 0:
                return wait, None
            if budgeted:
                db.execute(
                    text("UPDATE rate_limit_accounts SET budget = budget - 1 WHERE account = :a"),
                    {"a": account},
                )
            if windows:
                db.execute(
                    text(
                        "INSERT INTO rate_limit_sent (account, at) VALUES (:a, to_timestamp(:now))"
                    ),
                    {"a": account, "now": now},
                )
                db.execute(
                    text(
                        "DELETE FROM rate_limit_sent "
                        "WHERE account = :a AND at <= to_timestamp(:old)"
                    ),
                    {"a": account, "old": now - longest},
                )
            ticket = None
            if max_in_flight is not None:
                db.execute(
                    text(
                        "DELETE FROM rate_limit_in_flight WHERE account = :a "
                        "AND expires_at <= to_timestamp(:now)"
                    ),
                    {"a": account, "now": now},
                )
                ticket = db.execute(
                    text(
                        "INSERT INTO rate_limit_in_flight (account, expires_at) "
                        "VALUES (:a, to_timestamp(:until)) RETURNING id"
                    ),
                    {"a": account, "until": now + TICKET_SECONDS},
                ).scalar_one()
            return 0.0, ticket

    def finish(self, account: str, ticket: int | None) -> None:
        if ticket is None:
            return
        with self.engine.begin() as db:
            db.execute(text("DELETE FROM rate_limit_in_flight WHERE id = :id"), {"id": ticket})

    def set_budget(self, account: str, requests: int, seconds: float) -> None:
        with self.engine.begin() as db:
            db.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('quota:' || :a))"), {"a": account}
            )
            # Same window (the stored one has not reset and ends no earlier than this
            # report's, less a second of travel): keep the lower figure.
            db.execute(
                text(
                    "INSERT INTO rate_limit_accounts (account, budget, budget_until) VALUES "
                    "(:a, :n, clock_timestamp() + make_interval(secs => :s)) "
                    "ON CONFLICT (account) DO UPDATE SET "
                    "budget = CASE WHEN rate_limit_accounts.budget_until > clock_timestamp() "
                    "AND rate_limit_accounts.budget_until >= EXCLUDED.budget_until "
                    "- interval '1 second' "
                    "THEN least(rate_limit_accounts.budget, EXCLUDED.budget) "
                    "ELSE EXCLUDED.budget END, "
                    "budget_until = CASE WHEN rate_limit_accounts.budget_until > "
                    "clock_timestamp() AND rate_limit_accounts.budget_until >= "
                    "EXCLUDED.budget_until - interval '1 second' "
                    "THEN rate_limit_accounts.budget_until ELSE EXCLUDED.budget_until END"
                ),
                {"a": account, "n": max(0, requests), "s": max(0.0, seconds)},
            )

    def pause(self, account: str, seconds: float) -> None:
        with self.engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO rate_limit_accounts (account, not_before) "
                    "VALUES (:a, clock_timestamp() + make_interval(secs => :s)) "
                    "ON CONFLICT (account) DO UPDATE SET not_before = greatest("
                    "rate_limit_accounts.not_before, EXCLUDED.not_before)"
                ),
                {"a": account, "s": max(0.0, seconds)},
            )
