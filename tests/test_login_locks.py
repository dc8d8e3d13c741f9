"""Logging in without holding the database: the Argon2 check runs with no transaction
open (on SQLite, writers go on meanwhile), and parallel guesses cannot get past the
throttle (each attempt is counted under the throttle row's lock before its check)."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from stockbridge import accounts
from stockbridge.db.models import LoginThrottle
from tests.conftest import Harness

PASSWORD = "correct horse battery"


class HookedHasher(PasswordHasher):
    """The accounts' hasher, running ``during`` inside each password verification."""

    def __init__(self, during: Callable[[], None]) -> None:
        super().__init__()
        self.during = during
        self.lock = threading.Lock()
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.verifications += 1
        self.during()
        return super().verify(hash, password)


def _writable(database: Path) -> str:
    """Whether another connection can take SQLite's write lock right now."""
    probe = sqlite3.connect(database, timeout=0.1, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return "writable"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        probe.close()


def test_sqlite_writers_go_on_while_a_login_checks_its_password(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = sqlite_harness.hub
    database = hub.engine.url.database
    assert database is not None
    accounts.add_user(hub, "ann", PASSWORD, operator=True)
    seen: list[str] = []
    hasher = HookedHasher(lambda: seen.append(_writable(Path(database))))
    monkeypatch.setattr(accounts, "_hasher", hasher)

    session_id, _csrf = accounts.log_in(hub, "ann", PASSWORD, "10.0.0.1")
    assert accounts.session_info(hub, session_id) is not None
    with pytest.raises(accounts.LoginFailed):
        accounts.log_in(hub, "ann", "wrong password", "10.0.0.1")
    with pytest.raises(accounts.LoginFailed):  # an unknown user costs a hash all the same
        accounts.log_in(hub, "nobody", "whatever-pw", "10.0.0.1")
    assert seen == ["writable"] * 3
    assert hasher.verifications == 3


def test_parallel_wrong_guesses_cannot_get_past_the_throttle(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = harness.hub
    accounts.add_user(hub, "ann", PASSWORD, operator=True)
    hasher = HookedHasher(lambda: None)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    # Enough password-check slots that no guess is turned away as busy: the throttle
    # alone must stop them (test_login_throttle covers the slots).
    monkeypatch.setattr(hub.settings, "login_concurrency", 64)
    guesses = 3 * accounts.MAX_FAILURES
    start = threading.Barrier(guesses)
    outcomes: Counter[str] = Counter()
    tally = threading.Lock()

    def guess(n: int) -> None:
        start.wait()
        try:
            accounts.log_in(hub, "ann", f"guess number {n}", "10.0.0.9")
            outcome = "logged in"
        except accounts.LoginThrottled:
            outcome = "throttled"
        except accounts.LoginFailed:
            outcome = "failed"
        with tally:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hasher.verifications == accounts.MAX_FAILURES
    assert outcomes == {"failed": accounts.MAX_FAILURES, "throttled": guesses - 5}
    with pytest.raises(accounts.LoginThrottled):  # counted: the right password waits too
        accounts.log_in(hub, "ann", PASSWORD, "10.0.0.9")
    assert hasher.verifications == accounts.MAX_FAILURES
    accounts.log_in(hub, "ann", PASSWORD, "10.0.0.10")  # another address is not throttled


def test_a_success_clears_the_count_and_old_counts_are_swept(harness: Harness) -> None:
    hub = harness.hub
    accounts.add_user(hub, "ann", PASSWORD, operator=True)
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def attempt(password: str, minutes: float, client: str = "10.0.0.1") -> str:
        try:
            accounts.log_in(hub, "ann", password, client, now=start + timedelta(minutes=minutes))
        except accounts.LoginThrottled:
            return "throttled"
        except accounts.LoginFailed:
            return "failed"
        return "ok"

    def rows() -> int:
        with hub.uow() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(LoginThrottle)) or 0)

    assert [attempt("wrong-pw", 0) for _ in range(4)] == ["failed"] * 4
    assert attempt(PASSWORD, 1) == "ok"  # the four failures are forgotten
    assert [attempt("wrong-pw", 2) for _ in range(6)] == ["failed"] * 5 + ["throttled"]
    assert attempt(PASSWORD, 2 + 14) == "throttled"  # 15 minutes after the last failure
    assert attempt("wrong-pw", 3, client="10.0.0.2") == "failed"
    assert rows() == 5  # (ann, each address), each address, and ann across addresses
    # Past the window the count starts again, and other stale counts are swept.
    assert attempt(PASSWORD, 19) == "ok"
    assert rows() == 0
