"""Dashboard accounts: users with Argon2id password hashes, the stores each may see
(operators: every store), browser sessions with a CSRF token each, and login throttling.

Login throttling (the client address is the connection's peer; ``serve`` believes a
proxy's X-Forwarded-For only from ``--forwarded-allow-ips``). Three counts, each reset
15 minutes after its last failure, each attempt counted in all three before its check:

- per (user name, address): 5 failures, then every attempt from there is refused (even
  the right password) until 15 minutes after the last failure;
- per address, whatever the name: 30 failures, then refused alike. This bounds what one
  address costs: Argon2 work, and throttle rows for names that do not exist;
- per user name, across addresses: from the 10th failure on, each attempt waits
  2^(failures - 10) seconds after the last failure, 5 minutes at most. A delay, never a
  lockout: many addresses guessing one password get one guess per 5 minutes, and the
  user still gets in within 5 minutes. One address alone is locked at 5 failures, so it
  cannot set that delay off on its own.

Unknown and known names are counted alike (the throttle says nothing about who exists).
A successful login clears its (name, address) count and takes its own attempt back from
the other two.

Argon2 work is bounded: at most ``Settings.login_concurrency`` password checks run at
once in a process (default 1, i.e. one core of two); a login beyond them is refused at
once with ``LoginBusy`` (nothing counted, no thread kept waiting), so a flood of logins
cannot starve webhook handling of CPU or of the thread pool.

A login never holds a transaction open while Argon2 checks the password: on SQLite that
would hold the database's write lock, and webhooks and sync runs would wait on anyone
typing passwords. The attempt is counted first, in a short transaction that locks the
throttle rows (always address, then user, then pair: no deadlock), so parallel guesses
cannot all slip past the limits.

Errors: ``InvalidAccount`` (bad name, password or store grants given to ``add_user``, or a
duplicate; an unknown store raises ``services.StoreNotFound``),
``LoginFailed`` (unknown user or wrong password: the message never says which),
``LoginThrottled`` (too many failures; carries ``retry_after`` seconds) and its kind
``LoginBusy`` (every password-check slot taken; retry in a second).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from stockbridge.bootstrap import Hub
from stockbridge.db.uow import UnitOfWork
from stockbridge.login_guard import (
    MAX_ADDRESS_FAILURES,
    MAX_FAILURES,
    USER_DELAY_AFTER,
    LoginBusy,
    LoginThrottled,
    password_slots,
    release_slot,
    reserve,
    take_back,
)
from stockbridge.services import StoreNotFound

__all__ = [
    "MAX_ADDRESS_FAILURES",
    "MAX_FAILURES",
    "USER_DELAY_AFTER",
    "InvalidAccount",
    "LoginBusy",
    "LoginFailed",
    "LoginThrottled",
    "SessionInfo",
    "UserSummary",
    "add_user",
    "change_user",
    "list_users",
    "log_in",
    "log_out",
    "remove_user",
    "session_info",
]

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
MAX_NAME = 100
_password_slots = password_slots  # the throttle itself lives in ``login_guard``

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class InvalidAccount(ValueError):
    pass


class LoginFailed(Exception):
    pass


@dataclass(frozen=True)
class SessionInfo:
    """A live session: its user, CSRF token, and the stores the user may see (every store
    when ``operator``)."""

    user: str
    csrf_token: str
    operator: bool = False
    stores: frozenset[str] = field(default_factory=frozenset)
    #: Origins allowed to frame this session's pages (opened by a partner's app load).
    frame_ancestors: str | None = None

    def may_see(self, store: str) -> bool:
        return self.operator or store in self.stores


def _check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or not name.isprintable() or name != name.strip():
        raise InvalidAccount(
            f"user names are 1-{MAX_NAME} printable characters without surrounding spaces"
        )
    return name


def add_user(
    hub: Hub,
    name: str,
    password: str,
    *,
    stores: Sequence[str] = (),
    operator: bool = False,
    now: datetime | None = None,
) -> None:
    """Add a dashboard user who may see ``stores``, or every store as an ``operator``
    (exactly one of the two). Raises ``InvalidAccount`` for a bad name, a password
    shorter than 8 characters, a name already taken, or grants that are neither or
    both; ``StoreNotFound`` for an unknown store. Nothing is saved then."""
    name = _check_name(name)
    if operator == bool(stores):
        raise InvalidAccount(
            "give the stores the user may see (--store NAME, repeatable) "
            "or make an operator who sees every store (--operator), not both"
        )
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidAccount(f"passwords are {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    password_hash = _hasher.hash(password)
    with hub.uow() as uow:
        if uow.users.by_name(name) is not None:
            raise InvalidAccount(f"a user named {name!r} already exists")
        store_ids = []
        for store_name in stores:
            store = uow.stores.by_name(store_name)
            if store is None:
                raise StoreNotFound(f"no store named {store_name!r}")
            store_ids.append(store.id)
        uow.users.add(
            name, password_hash, now or datetime.now(UTC), operator=operator, store_ids=store_ids
        )
        uow.commit()


@dataclass(frozen=True)
class UserSummary:
    name: str
    operator: bool
    stores: tuple[str, ...]
    sessions: int


def list_users(hub: Hub) -> list[UserSummary]:
    """Every dashboard user, by name, with what they see and their live sessions."""
    now = datetime.now(UTC)
    with hub.uow() as uow:
        uow.read_only()
        return [
            UserSummary(
                user.name,
                user.operator,
                () if user.operator else tuple(uow.users.store_names(user.id)),
                uow.users.live_sessions(user.id, now),
            )
            for user in uow.users.all()
        ]


def change_user(
    hub: Hub,
    name: str,
    *,
    stores: Sequence[str] | None = None,
    operator: bool = False,
    password: str | None = None,
) -> UserSummary:
    """Give a user other stores (``stores``, replacing the old ones), make them an
    ``operator``, and/or set a new ``password``. A new password ends the user's sessions
    (a stolen one stops working); new grants apply to open sessions at their next page.
    Raises ``InvalidAccount`` (unknown user, both or no change, bad password) or
    ``StoreNotFound``; nothing is saved then."""
    if operator and stores:
        raise InvalidAccount("give --store NAME (repeatable) or --operator, not both")
    if not operator and stores is None and password is None:
        raise InvalidAccount("nothing to change: give --store, --operator or a new password")
    password_hash = None
    if password is not None:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidAccount(f"passwords are {MIN_PASSWORD}-{MAX_PASSWORD} characters")
        password_hash = _hasher.hash(password)
    with hub.uow() as uow:
        user = uow.users.by_name(name)
        if user is None:
            raise InvalidAccount(f"no user named {name!r}")
        if operator or stores is not None:
            store_ids = []
            for store_name in stores or ():
                store = uow.stores.by_name(store_name)
                if store is None:
                    raise StoreNotFound(f"no store named {store_name!r}")
                store_ids.append(store.id)
            uow.users.set_grants(user.id, operator=operator, store_ids=store_ids)
        if password_hash is not None:
            user.password_hash = password_hash
            uow.users.close_sessions_of(user.id)
        uow.commit()
        return UserSummary(
            user.name,
            user.operator,
            () if user.operator else tuple(uow.users.store_names(user.id)),
            uow.users.live_sessions(user.id, datetime.now(UTC)),
        )


def remove_user(hub: Hub, name: str) -> None:
    """Remove a user; their sessions end with them. ``InvalidAccount`` if unknown."""
    with hub.uow() as uow:
        user = uow.users.by_name(name)
        if user is None:
            raise InvalidAccount(f"no user named {name!r}")
        uow.users.close_sessions_of(user.id)
        uow.users.remove(user.id)
        uow.commit()


def log_in(
    hub: Hub, name: str, password: str, client: str, *, now: datetime | None = None
) -> tuple[str, str]:
    """Check the password and open a session: returns (session id, CSRF token). Raises
    ``LoginFailed``, ``LoginThrottled`` or ``LoginBusy`` (see the module for the rules)."""
    now = now or datetime.now(UTC)

    def look_up(uow: UnitOfWork) -> tuple[int | None, str]:
        user = uow.users.by_name(name) if len(name) <= MAX_NAME else None
        return (user.id, user.password_hash) if user else (None, _DUMMY_HASH)

    # 1. A short write: count this attempt as a failure (under the throttle rows' locks,
    #    so parallel attempts count one by one) unless a limit is reached; read the hash.
    user_id, stored_hash = reserve(hub, name, client, now, look_up)
    # 2. Argon2 with no transaction open, in the slot taken above. An unknown user costs
    #    the same hash as a known one: timing tells nothing.
    try:
        try:
            ok = _hasher.verify(stored_hash, password[:MAX_PASSWORD]) and user_id is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user_id is None:
            raise LoginFailed("unknown user or wrong password")  # the failure is counted already
        new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else None
    finally:
        release_slot(hub)
    # 3. A short write: the attempt was no failure after all; open the session.
    with hub.uow() as uow:
        found = uow.users.get(user_id)
        if found is None or found.password_hash != stored_hash:
            # Removed, or the password changed, while the hash was being checked.
            raise LoginFailed("unknown user or wrong password")
        if new_hash is not None:
            found.password_hash = new_hash
        take_back(uow, name, client)
        uow.users.purge_expired_sessions(now)
        session_id, csrf = uow.users.open_session(user_id, now, SESSION_LIFETIME)
        uow.commit()
        return session_id, csrf


def session_info(hub: Hub, session_id: str, *, now: datetime | None = None) -> SessionInfo | None:
    """The logged-in user, CSRF token and visible stores of a live session, or None."""
    if not session_id or len(session_id) > 200:
        return None
    with hub.uow() as uow:
        uow.read_only()  # every page asks: it must not queue for SQLite's write lock
        row = uow.users.find_session(session_id, now or datetime.now(UTC))
        if row is None:
            return None
        user = uow.users.get(row.user_id)
        if user is None:
            return None
        stores = frozenset(() if user.operator else uow.users.store_names(user.id))
        return SessionInfo(user.name, row.csrf_token, user.operator, stores, row.frame_ancestors)


def log_out(hub: Hub, session_id: str) -> None:
    with hub.uow() as uow:
        uow.users.close_session(session_id)
        uow.commit()
