"""The hub's side of an OAuth 2 consent round trip, for any partner: single-use ``state``
values bound to the browser that asked, and one-time start links for the command line.

- ``begin`` makes a ``state`` for a store, bound to a browser (a dashboard session id,
  or the cookie a start link set), valid for ``STATE_LIFETIME``; only its hash is kept.
- ``take_state`` checks the ``state`` a callback brings back and uses it up, once,
  across processes (a conditional update; see ``db/oauth.py``): unknown, used, expired
  or another browser's state raises ``OAuthRefused`` and nothing else happens.
- ``create_link`` / ``use_link``: ``stockbridge connect ... --browser`` has no browser
  session, so it makes a one-time link to the start page; ``finish`` writes how the
  consent ended on that link, and ``link_outcome`` is what the command waits for.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stockbridge.bootstrap import Hub
from stockbridge.db.oauth import hash_value
from stockbridge.services.errors import StoreNotFound
from stockbridge.services.stores import find_store

__all__ = [
    "LINK_LIFETIME",
    "STATE_LIFETIME",
    "OAuthRefused",
    "StateTaken",
    "begin",
    "create_link",
    "finish",
    "link_binding",
    "link_outcome",
    "session_binding",
    "take_state",
    "use_link",
]

STATE_LIFETIME = timedelta(minutes=10)
LINK_LIFETIME = timedelta(minutes=10)
MAX_VALUE_LENGTH = 200


class OAuthRefused(Exception):
    """A state or link that is unknown, used, expired or not this browser's."""


@dataclass(frozen=True)
class StateTaken:
    """A state just used up: the store it was made for, and whether a start link (not a
    dashboard session) began it."""

    store_id: int
    store: str
    by_link: bool
    link_hash: str | None


def session_binding(session_id: str) -> str:
    """What a state made from a dashboard session is bound to."""
    return f"session:{session_id}"


def link_binding(cookie: str) -> str:
    """What a state made from a start link is bound to (the cookie the link set)."""
    return f"link:{cookie}"


def begin(hub: Hub, kind: str, store: str, *, binding: str, link: str | None = None) -> str:
    """A new single-use ``state`` for ``store``, bound to ``binding``."""
    state = secrets.token_urlsafe(32)
    with hub.uow() as uow:
        found = find_store(uow, store)
        uow.oauth.add(
            state,
            purpose="state",
            kind=kind,
            store_id=found.id,
            lifetime=STATE_LIFETIME,
            binding=binding,
            link=link,
        )
        uow.commit()
    return state


def take_state(
    hub: Hub, kind: str, state: str, bindings: Iterable[str], now: datetime | None = None
) -> StateTaken:
    """Use up ``state`` if it is ``kind``'s, live, unused and bound to one of
    ``bindings``; else ``OAuthRefused`` saying which."""
    now = now or datetime.now(UTC)
    if not state or len(state) > MAX_VALUE_LENGTH:
        raise OAuthRefused("the answer carries no valid state: start connecting again")
    with hub.uow() as uow:
        row = uow.oauth.get(state, "state")
        if row is None or row.kind != kind:
            raise OAuthRefused("unknown state (tampered with, or not from this hub)")
        if row.expires_at <= now and row.used_at is None:
            raise OAuthRefused("the consent took too long (over 10 minutes): start again")
        expected = (row.binding_hash or "").encode()
        if not any(hmac.compare_digest(hash_value(b).encode(), expected) for b in bindings):
            raise OAuthRefused("this consent was started in another browser session")
        if not uow.oauth.use(state, "state", now):
            raise OAuthRefused("this consent was already used: start connecting again")
        store = uow.stores.get(row.store_id)
        if store is None:
            raise OAuthRefused("the store no longer exists")
        taken = StateTaken(store.id, store.name, row.link_hash is not None, row.link_hash)
        uow.commit()
    return taken


def finish(hub: Hub, taken: StateTaken, outcome: str, detail: str) -> None:
    """Record how a consent begun from a start link ended (``connected`` or ``failed``)."""
    if taken.link_hash is None:
        return
    with hub.uow() as uow:
        uow.oauth.finish_link(taken.link_hash, outcome, detail)
        uow.commit()


def create_link(hub: Hub, kind: str, store: str | None) -> tuple[str, str]:
    """A one-time start link's secret for ``store`` (and the store's name)."""
    link = secrets.token_urlsafe(32)
    with hub.uow() as uow:
        found = find_store(uow, store)
        uow.oauth.add(link, purpose="link", kind=kind, store_id=found.id, lifetime=LINK_LIFETIME)
        uow.commit()
        return link, found.name


def use_link(hub: Hub, kind: str, store: str, link: str) -> None:
    """Use up a start link made for ``kind`` and ``store``; ``OAuthRefused`` otherwise."""
    if not link or len(link) > MAX_VALUE_LENGTH:
        raise OAuthRefused("this start link is not valid: run the command again")
    with hub.uow() as uow:
        row = uow.oauth.get(link, "link")
        found = uow.stores.by_name(store)
        if row is None or row.kind != kind or found is None or found.id != row.store_id:
            raise OAuthRefused("this start link is not valid: run the command again")
        if not uow.oauth.use(link, "link"):
            raise OAuthRefused("this start link was used or has expired: run the command again")
        uow.commit()


def link_outcome(hub: Hub, link: str, now: datetime | None = None) -> tuple[str, str] | None:
    """(outcome, detail) once the consent begun from ``link`` ended; None while it may
    still end. A link never opened in time ends as ``failed``."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        uow.read_only()
        row = uow.oauth.get(link, "link")
        if row is None:
            raise StoreNotFound("the start link is gone (the store was removed?)")
        if row.outcome is not None:
            return row.outcome, row.detail or ""
        if row.used_at is None and row.expires_at <= now:
            return "failed", "the link was not opened within 10 minutes"
        if row.used_at is not None and row.used_at + STATE_LIFETIME <= now:
            return "failed", "the consent was not finished within 10 minutes"
        return None
