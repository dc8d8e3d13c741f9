"""Dashboard accounts: users with Argon2id password hashes, browser sessions with a CSRF
token each, and login throttling per (user name, client address).

Errors: ``InvalidAccount`` (bad name or password given to ``add_user``, or a duplicate),
``LoginFailed`` (unknown user or wrong password: the message never says which),
``LoginThrottled`` (too many failures; carries ``retry_after`` seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from stockbridge.bootstrap import Hub

__all__ = [
    "MAX_FAILURES",
    "InvalidAccount",
    "LoginFailed",
    "LoginThrottled",
    "SessionInfo",
    "add_user",
    "log_in",
    "log_out",
    "session_info",
]

MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
MAX_NAME = 100

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class InvalidAccount(ValueError):
    pass


class LoginFailed(Exception):
    pass


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SessionInfo:
    user: str
    csrf_token: str


def _check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or not name.isprintable() or name != name.strip():
        raise InvalidAccount(
            f"user names are 1-{MAX_NAME} printable characters without surrounding spaces"
        )
    return name


def add_user(hub: Hub, name: str, password: str, *, now: datetime | None = None) -> None:
    """Add a dashboard user. Raises ``InvalidAccount`` for a bad name, a password shorter
    than 8 characters, or a name already taken (nothing is saved then)."""
    name = _check_name(name)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidAccount(f"passwords are {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    password_hash = _hasher.hash(password)
    with hub.uow() as uow:
        if uow.users.by_name(name) is not None:
            raise InvalidAccount(f"a user named {name!r} already exists")
        uow.users.add(name, password_hash, now or datetime.now(UTC))
        uow.commit()


def _throttle_key(name: str, client: str) -> str:
    return f"{name[:MAX_NAME]}|{client[:100]}"


def log_in(
    hub: Hub, name: str, password: str, client: str, *, now: datetime | None = None
) -> tuple[str, str]:
    """Check the password and open a session: returns (session id, CSRF token).

    After ``MAX_FAILURES`` failures for this name from this client within 15 minutes,
    every attempt (even with the right password) raises ``LoginThrottled`` until 15
    minutes after the last failure."""
    now = now or datetime.now(UTC)
    key = _throttle_key(name, client)
    with hub.uow() as uow:
        throttle = uow.users.throttle(key)
        if throttle is not None and throttle.failures >= MAX_FAILURES:
            wait = throttle.last_failed_at + THROTTLE_WINDOW - now
            if wait > timedelta(0):
                raise LoginThrottled(max(1, int(wait.total_seconds())))
        user = uow.users.by_name(name) if len(name) <= MAX_NAME else None
        try:
            # An unknown user costs the same hash as a known one: timing tells nothing.
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
            ok = user is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            uow.users.forget_old_failures(now - THROTTLE_WINDOW)
            uow.users.record_failure(key, now, THROTTLE_WINDOW)
            uow.commit()
            raise LoginFailed("unknown user or wrong password")
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        uow.users.clear_failures(key)
        uow.users.purge_expired_sessions(now)
        session_id, csrf = uow.users.open_session(user.id, now, SESSION_LIFETIME)
        uow.commit()
        return session_id, csrf


def session_info(hub: Hub, session_id: str, *, now: datetime | None = None) -> SessionInfo | None:
    """The logged-in user and CSRF token of a live session, or None."""
    if not session_id or len(session_id) > 200:
        return None
    with hub.uow() as uow:
        row = uow.users.find_session(session_id, now or datetime.now(UTC))
        if row is None:
            return None
        user = uow.users.get(row.user_id)
        return SessionInfo(user.name, row.csrf_token) if user else None


def log_out(hub: Hub, session_id: str) -> None:
    with hub.uow() as uow:
        uow.users.close_session(session_id)
        uow.commit()
