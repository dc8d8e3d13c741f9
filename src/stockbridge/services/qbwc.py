"""The QuickBooks Web Connector's side of a store: its user (Argon2id hash), the .qwc
file, sign-in of a session, and what the dashboard shows (when it last called, what is
waiting for it). The SOAP endpoint (``connectors/qbwc/web_routes.py``) calls these."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from stockbridge.bootstrap import Hub
from stockbridge.connectors.qbwc import KIND
from stockbridge.connectors.qbwc.connector import FLAVOURS, SKU_FIELDS
from stockbridge.connectors.qbwc.qwc import QwcFile, check_app_url
from stockbridge.db.models import Connection, QbwcUser, Store
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import SYNC_ALL, Trigger
from stockbridge.jobs.queue import JobQueue
from stockbridge.login_guard import LoginThrottled, release_slot, reserve, take_back
from stockbridge.services.connections import connect_partner
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.services.stores import find_store

__all__ = [
    "QbwcConnected",
    "QbwcSignIn",
    "QbwcStatus",
    "authenticate",
    "connect_qbwc",
    "note_call",
    "qbwc_status",
    "qwc_for",
    "start_session",
]

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("no Web Connector user has this password")
MIN_PASSWORD, MAX_PASSWORD = 12, 256
DEFAULT_APP_URL = "https://localhost:8000/qbwc"
REALM = "qbwc"  # the login throttle's rows of Web Connector sign-ins


@dataclass(frozen=True)
class QbwcConnected:
    store: str
    user_name: str
    #: The generated password (shown once); None when the caller chose it.
    password: str | None
    qwc: str
    reached: str


@dataclass(frozen=True)
class QbwcSignIn:
    store_id: int
    connection_id: int


@dataclass(frozen=True)
class QbwcStatus:
    store_id: int
    user_name: str
    flavour: str
    last_call_at: datetime | None
    last_outcome: str | None
    orders_waiting: int


def _user_name(store: str) -> str:
    return "stockbridge-" + re.sub(r"[^A-Za-z0-9._-]", "-", store)[:80]


def connect_qbwc(
    hub: Hub,
    store_name: str | None,
    *,
    flavour: str,
    every_minutes: int = 15,
    app_url: str = DEFAULT_APP_URL,
    password: str | None = None,
    sku_field: str | None = None,
    batch_size: int = 25,
) -> QbwcConnected:
    """Connect the store's back office through the Web Connector: its user (a new
    password each time; generated unless given), the connection, and the .qwc file. The
    OwnerID and FileID GUIDs stay what they were for the store. Checks everything
    before saving anything."""
    if flavour not in FLAVOURS:
        raise InvalidSetting(
            f"flavour {flavour!r} is not supported (supported: {', '.join(FLAVOURS)})"
        )
    sku_field = sku_field or SKU_FIELDS[flavour][0]
    if sku_field not in SKU_FIELDS[flavour]:
        raise InvalidSetting(
            f"sku field must be one of {', '.join(SKU_FIELDS[flavour])} for {flavour}"
        )
    if not 1 <= every_minutes <= 1440:
        raise InvalidSetting("--every must be 1 to 1440 minutes")
    try:
        check_app_url(app_url)
    except ValueError as exc:
        raise InvalidSetting(str(exc)) from None
    if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidSetting(
            f"the Web Connector password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters"
        )
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(18)
    with hub.uow() as uow:
        store = find_store(uow, store_name)
        store_label, store_id = store.name, store.id
    user_name = _user_name(store_label)
    settings = {
        "flavour": flavour,
        "sku_field": sku_field,
        "batch_size": batch_size,
        "user_name": user_name,
        "app_url": app_url,
        "every_minutes": every_minutes,
    }
    password_hash = _hasher.hash(password)
    reached = connect_partner(
        hub, store_label, role="back_office", kind=KIND, settings=settings, secrets={}
    )
    with hub.uow() as uow:
        row = uow.session.get(QbwcUser, store_id)
        if row is None:
            row = QbwcUser(
                store_id=store_id,
                owner_id=str(uuid.uuid4()).upper(),
                file_id=str(uuid.uuid4()).upper(),
            )
            uow.session.add(row)
        row.user_name = user_name
        row.password_hash = password_hash
        uow.commit()
    qwc = qwc_for(hub, store_id)
    assert qwc is not None
    return QbwcConnected(store_label, user_name, generated, qwc, reached)


def qwc_for(hub: Hub, store_id: int) -> str | None:
    """The store's .qwc file; None when it is not connected through the Web Connector."""
    with hub.uow() as uow:
        uow.read_only()
        row = uow.session.get(QbwcUser, store_id)
        connection = uow.stores.connection(store_id, "back_office")
        store = uow.session.get(Store, store_id)
        if row is None or connection is None or connection.kind != KIND or store is None:
            return None
        settings = dict(connection.settings or {})
        return QwcFile(
            app_name=f"Stockbridge ({store.name})",
            app_url=str(settings.get("app_url") or DEFAULT_APP_URL),
            user_name=row.user_name,
            owner_id=row.owner_id,
            file_id=row.file_id,
            flavour=str(settings.get("flavour") or "desktop"),
            every_minutes=int(settings.get("every_minutes") or 15),
        ).render()


def authenticate(
    hub: Hub, user_name: str, password: str, client: str, *, now: datetime | None = None
) -> QbwcSignIn | None:
    """The store a Web Connector user signs in for; None for a wrong name or password
    (the same work either way: a hash is checked for an unknown name too), and None
    without any check while the sign-in is throttled or every password-check slot is
    busy: the dashboard's login throttle and slots (``login_guard``), realm "qbwc",
    ``client`` the caller's address. The check runs with no transaction open."""
    if len(password) > MAX_PASSWORD or len(user_name) > 100:
        return None
    now = now or datetime.now(UTC)

    def look_up(uow: UnitOfWork) -> tuple[int, str, int] | None:
        found = uow.session.execute(
            select(QbwcUser.store_id, QbwcUser.password_hash, Connection.id)
            .join(
                Connection,
                (Connection.store_id == QbwcUser.store_id)
                & (Connection.role == "back_office")
                & (Connection.kind == KIND),
            )
            .where(QbwcUser.user_name == user_name)
        ).first()
        return None if found is None else (found[0], found[1], found[2])

    try:
        row = reserve(hub, user_name, client, now, look_up, realm=REALM)
    except LoginThrottled:  # LoginBusy too: "nvu" at once, no hash checked
        return None
    try:
        try:
            ok: bool = _hasher.verify(row[1] if row is not None else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            ok = False
    finally:
        release_slot(hub)
    if not ok or row is None:
        return None  # the failure is counted already
    with hub.uow() as uow:
        take_back(uow, user_name, client, realm=REALM)
        uow.commit()
    return QbwcSignIn(row[0], row[2])


def note_call(hub: Hub, store_id: int, outcome: str | None = None) -> None:
    """Record that the Web Connector called (and, when given, what came of it)."""
    with hub.uow() as uow:
        row = uow.session.get(QbwcUser, store_id)
        if row is None:
            return
        row.last_call_at = datetime.now(UTC)
        if outcome is not None:
            row.last_outcome = outcome[:2000]
        uow.commit()


def start_session(hub: Hub, queue: JobQueue, store_id: int) -> int:
    """Queue the run a Web Connector session carries out (merged into one already
    queued): its back-office steps go through the session."""
    run_id, _merged = hub.runner().request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    queue.submit_run(run_id)
    return run_id


def qbwc_status(hub: Hub, store_name: str | None) -> QbwcStatus:
    with hub.uow() as uow:
        uow.read_only()
        store = find_store(uow, store_name)
        row = uow.session.get(QbwcUser, store.id)
        connection = uow.stores.connection(store.id, "back_office")
        if row is None or connection is None or connection.kind != KIND:
            raise StoreNotFound(f"store {store.name!r} is not connected through the Web Connector")
        return QbwcStatus(
            store_id=store.id,
            user_name=row.user_name,
            flavour=str((connection.settings or {}).get("flavour") or "desktop"),
            last_call_at=row.last_call_at,
            last_outcome=row.last_outcome,
            orders_waiting=uow.orders.count_to_post(store.id),
        )
