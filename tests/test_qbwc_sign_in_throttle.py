"""Issue 27, row 2: the Web Connector's ``authenticate`` is under the dashboard's login
throttle (per user and address, per address) and its password-check slots. Real
parallel SOAP calls to a running hub; a throttled or busy sign-in answers "nvu" at once,
without checking a hash. Argon2 here is the real one (64 MiB a check): the process's
peak memory is bounded while a burst of wrong passwords arrives."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from stockbridge import accounts
from stockbridge.db.models import LoginThrottle
from stockbridge.login_guard import password_slots
from stockbridge.services import qbwc as qbwc_service
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)

PARALLEL = 12


class CountingHasher(PasswordHasher):
    """Argon2 with the library's defaults (the hashes checked carry their own cost), that
    counts the checks it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture(name="hasher")
def hasher_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    hasher = CountingHasher()
    monkeypatch.setattr(qbwc_service, "_hasher", hasher)
    yield hasher


def _sign_in(shop: Shop, password: str, user: str | None = None) -> str:
    connector = shop.connector(password)
    try:
        answer = connector.call(
            "authenticate", strUserName=user or shop.user_name, strPassword=password
        )
    finally:
        connector.client.close()
    assert isinstance(answer, list)
    return answer[1]


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_burst_of_wrong_passwords_is_throttled_and_bounded_in_memory(
    shop: Shop, hasher: CountingHasher
) -> None:
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    before = _rss_kib()
    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(lambda n: _sign_in(shop, f"wrong password {n}"), range(PARALLEL)))
    grown_mib = (_peak_kib() - before) / 1024
    assert answers == ["nvu"] * PARALLEL
    # Checked one at a time (the others told "nvu" at once), never more than the 5
    # failures a (user, address) may have.
    assert 1 <= hasher.verifications <= accounts.MAX_FAILURES
    assert grown_mib < 200, f"the hub's peak memory grew by {grown_mib:.0f} MiB"
    # Guessing on, one by one: 5 failures are checked in all, then nothing is.
    more = [_sign_in(shop, f"guess {n}") for n in range(accounts.MAX_FAILURES + 1)]
    assert more == ["nvu"] * len(more)
    assert hasher.verifications == accounts.MAX_FAILURES
    # From that address the right password is refused too now, without a check.
    assert _sign_in(shop, shop.password) == "nvu"
    assert hasher.verifications == accounts.MAX_FAILURES
    with shop.running.hub.uow() as uow:
        keys = set(uow.session.scalars(select(LoginThrottle.key)))
    assert keys == {
        "qbwc:a|127.0.0.1",
        f"qbwc:u|{shop.user_name}",
        f"qbwc:p|{shop.user_name}|127.0.0.1",
    }
    # The store's user still signs in from another address (and the dashboard's
    # throttle rows are not the Web Connector's).
    hub = shop.running.hub
    assert qbwc_service.authenticate(hub, shop.user_name, shop.password, "192.0.2.8") is not None


def test_a_sign_in_while_every_password_slot_is_busy_gets_nvu_without_a_check(
    shop: Shop, hasher: CountingHasher
) -> None:
    slots = password_slots(shop.running.hub)
    assert slots.acquire(blocking=False)  # a dashboard login is checking its password
    try:
        assert _sign_in(shop, shop.password) == "nvu"
        assert _sign_in(shop, "a wrong one") == "nvu"
    finally:
        slots.release()
    assert hasher.verifications == 0
    with shop.running.hub.uow() as uow:
        assert list(uow.session.scalars(select(LoginThrottle.key))) == []  # nothing counted
    assert _sign_in(shop, shop.password) == ""  # a slot free: signed in
    assert hasher.verifications == 1
