"""The login throttle's policy (see ``stockbridge.accounts``), on both databases: one
address cannot lock a user out for everyone, many addresses guessing one user are slowed
down (a delay, never a lockout), one address cannot grow the throttle table without
bound, and Argon2 work is capped by password-check slots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from stockbridge import accounts
from stockbridge.bootstrap import Hub
from stockbridge.db.models import LoginThrottle
from tests.conftest import Harness

PASSWORD = "correct horse battery"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class CountingHasher(PasswordHasher):
    """A cheap Argon2 (tests only) that counts the password checks it ran."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def hub(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", hasher.hash("nobody's password"))
    accounts.add_user(harness.hub, "ann", PASSWORD, operator=True)
    yield harness.hub


def attempt(hub: Hub, password: str, client: str, seconds: float, name: str = "ann") -> str:
    try:
        accounts.log_in(hub, name, password, client, now=START + timedelta(seconds=seconds))
    except accounts.LoginThrottled as exc:
        return f"wait {exc.retry_after}"
    except accounts.LoginFailed:
        return "failed"
    return "ok"


def rows(hub: Hub) -> int:
    with hub.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(LoginThrottle)) or 0)


def verifications() -> int:
    hasher = accounts._hasher
    assert isinstance(hasher, CountingHasher)
    return hasher.verifications


def test_one_address_locks_only_itself(hub: Hub) -> None:
    """An attacker (or a colleague behind the same address) guessing ann's password is
    locked after 5; ann from her own address logs in at once."""
    guesses = [attempt(hub, "wrong-pw", "203.0.113.66", 0) for _ in range(7)]
    assert guesses == ["failed"] * 5 + ["wait 900"] * 2
    assert attempt(hub, PASSWORD, "203.0.113.66", 60) == "wait 840"  # even the right one
    assert attempt(hub, PASSWORD, "198.51.100.7", 60) == "ok"


def test_many_addresses_guessing_one_user_are_slowed_not_locked_out(hub: Hub) -> None:
    """Ten failures from ten addresses; from then on each attempt for ann, from any
    address, waits 2^(n-10) s after the last failure (at most 5 minutes); the right
    password still gets in after the wait."""
    at = 0.0
    for n in range(accounts.USER_DELAY_AFTER):
        assert attempt(hub, "wrong-pw", f"192.0.2.{n}", at) == "failed"
    assert attempt(hub, "wrong-pw", "192.0.2.200", at) == "wait 1"
    assert attempt(hub, PASSWORD, "198.51.100.7", at) == "wait 1"  # ann waits too, briefly
    waits = []
    for n in range(12):  # failures 11..22, each as soon as allowed
        delay = min(2**n, 300)
        assert attempt(hub, "wrong-pw", f"192.0.2.{100 + n}", at + delay - 1) == "wait 1"
        at += delay
        assert attempt(hub, "wrong-pw", f"192.0.2.{100 + n}", at) == "failed"
        waits.append(delay)
    assert waits[-3:] == [300, 300, 300]  # capped: a delay, never a lockout
    assert attempt(hub, PASSWORD, "198.51.100.7", at + 299) == "wait 1"
    assert attempt(hub, PASSWORD, "198.51.100.7", at + 300) == "ok"


def test_one_address_cannot_start_the_per_user_delay(hub: Hub) -> None:
    for minute in (0, 16, 32):  # 5 failures per window: the pair lock stops it first
        for _ in range(accounts.MAX_FAILURES):
            assert attempt(hub, "wrong-pw", "203.0.113.66", minute * 60) == "failed"
    assert attempt(hub, PASSWORD, "198.51.100.7", 32 * 60) == "ok"


def test_unknown_names_from_one_address_are_bounded(hub: Hub) -> None:
    """Spraying made-up names: the address is stopped after 30 failures, so it adds at
    most two rows per failure and one for itself, and costs at most 30 password checks;
    others are not affected."""
    outcomes = [
        attempt(hub, "some-password", "203.0.113.9", 0, name=f"user{n}") for n in range(100)
    ]
    assert outcomes == ["failed"] * accounts.MAX_ADDRESS_FAILURES + ["wait 900"] * 70
    assert verifications() == accounts.MAX_ADDRESS_FAILURES
    assert rows(hub) == 2 * accounts.MAX_ADDRESS_FAILURES + 1
    assert attempt(hub, PASSWORD, "198.51.100.7", 1) == "ok"


def test_a_success_takes_its_own_attempt_back(hub: Hub) -> None:
    for n in range(4):
        assert attempt(hub, "wrong-pw", "192.0.2.1", n) == "failed"
    assert attempt(hub, PASSWORD, "192.0.2.1", 10) == "ok"
    with hub.uow() as uow:
        counts = {row.key: row.failures for row in uow.session.scalars(select(LoginThrottle))}
    assert counts == {"a|192.0.2.1": 4, "u|ann": 4}  # the pair's count is cleared


def test_password_checks_beyond_the_slots_are_refused_at_once(hub: Hub) -> None:
    """While every slot is busy, logins are told to retry in a second: no password check,
    nothing counted, no thread left waiting."""
    slots = accounts._password_slots(hub)
    assert slots.acquire(blocking=False)  # a login is checking its password
    try:
        for n in range(20):
            assert attempt(hub, "wrong-pw", f"192.0.2.{n}", 0) == "wait 1"
        assert attempt(hub, PASSWORD, "198.51.100.7", 0) == "wait 1"
    finally:
        slots.release()
    assert verifications() == 0 and rows(hub) == 0
    assert attempt(hub, PASSWORD, "198.51.100.7", 0) == "ok"
    assert slots.acquire(blocking=False)  # every slot was given back
    slots.release()
