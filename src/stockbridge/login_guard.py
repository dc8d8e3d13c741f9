"""The login throttle and the password-check slots, for every sign-in that checks a
password: the dashboard's (``accounts.log_in``) and the QuickBooks Web Connector's
(``services.qbwc.authenticate``). Each has its own ``realm``: a Web Connector retrying a
wrong password on the shop PC does not lock the merchant out of the dashboard there.

The rules (see ``accounts`` for the reasons): each attempt counts, before its password
is checked, against three limits, each reset 15 minutes after its last failure: per
(user name, address) 5 failures, then refused; per address 30 failures, then refused;
per user name from the 10th failure a delay of 2^(n - 10) seconds, 5 minutes at most.
Password checks run in ``Settings.login_concurrency`` slots per process; an attempt
finding every slot busy is refused at once (``LoginBusy``), nothing counted.

Use: ``reserve`` (count the attempt, take a slot, read what to check), check the
password with no transaction open, ``release_slot``, and on success ``take_back`` in the
transaction that signs the user in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from stockbridge.bootstrap import Hub
from stockbridge.db.uow import UnitOfWork

__all__ = [
    "MAX_ADDRESS_FAILURES",
    "MAX_FAILURES",
    "USER_DELAY_AFTER",
    "LoginBusy",
    "LoginThrottled",
    "password_slots",
    "release_slot",
    "reserve",
    "take_back",
    "throttle_keys",
]

MAX_FAILURES = 5  # per (user name, address)
MAX_ADDRESS_FAILURES = 30  # per address, any name
USER_DELAY_AFTER = 10  # per user name, any address: then exponential delays
MAX_USER_DELAY = timedelta(minutes=5)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_NAME = 100
T = TypeVar("T")


class LoginThrottled(Exception):
    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message or f"too many failed logins: try again in {retry_after} seconds")
        self.retry_after = retry_after


class LoginBusy(LoginThrottled):
    """Every password-check slot is taken; nothing was counted."""

    def __init__(self) -> None:
        super().__init__(1, "the hub is busy checking other logins: try again in a second")


_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def password_slots(hub: Hub) -> threading.BoundedSemaphore:
    """This process's password-check slots (one semaphore per configured size), shared
    by every realm: together they never check more passwords at once than configured."""
    size = hub.settings.login_concurrency
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def release_slot(hub: Hub) -> None:
    password_slots(hub).release()


def throttle_keys(name: str, client: str, realm: str = "") -> tuple[str, str, str]:
    """The throttle rows of an attempt, in locking order: address, user, pair. The
    dashboard's realm is "" (its rows keep their names); another sign-in's is its own."""
    name, client = name[:MAX_NAME], client[:100]
    # Another realm's keys start "<realm>:" and the dashboard's with one letter and "|":
    # no user name of one realm can make a key of the other.
    prefix = f"{realm}:" if realm else ""
    return f"{prefix}a|{client}", f"{prefix}u|{name}", f"{prefix}p|{name}|{client}"


def reserve(
    hub: Hub,
    name: str,
    client: str,
    now: datetime,
    look_up: Callable[[UnitOfWork], T],
    *,
    realm: str = "",
) -> T:
    """Count the attempt in all three throttles, take a password-check slot, and return
    ``look_up(uow)`` (what the password is checked against), all in one short
    transaction. Raises ``LoginThrottled`` or ``LoginBusy`` with nothing counted and no
    slot taken. Otherwise the caller releases the slot (``release_slot``)."""
    address, user_key, pair = throttle_keys(name, client, realm)
    slots = password_slots(hub)
    with hub.uow() as uow:
        users = uow.users
        waits = [
            users.reserve_attempt(address, now, THROTTLE_WINDOW, MAX_ADDRESS_FAILURES),
            users.reserve_delayed_attempt(
                user_key, now, THROTTLE_WINDOW, USER_DELAY_AFTER, MAX_USER_DELAY
            ),
            users.reserve_attempt(pair, now, THROTTLE_WINDOW, MAX_FAILURES),
        ]
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            raise LoginThrottled(max(1, int(wait.total_seconds())))  # rolled back: not counted
        if not slots.acquire(blocking=False):
            raise LoginBusy  # rolled back: not counted
        try:
            users.forget_old_failures(now - THROTTLE_WINDOW, keep=(address, user_key, pair))
            found = look_up(uow)
            uow.commit()
        except BaseException:
            slots.release()
            raise
    return found


def take_back(uow: UnitOfWork, name: str, client: str, *, realm: str = "") -> None:
    """A sign-in succeeded: its attempt was no failure after all (the caller commits)."""
    address, user_key, pair = throttle_keys(name, client, realm)
    uow.users.undo_attempt(address)
    uow.users.undo_attempt(user_key)
    uow.users.clear_failures(pair)
