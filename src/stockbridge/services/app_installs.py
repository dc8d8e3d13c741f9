"""A partner's app installed from the partner's side (BigCommerce's single-click app):
the install creates or re-enables the store and connects it, the partner's signed app
load opens that store's dashboard for the partner's user, an uninstall stops the store
syncing and forgets its token (keeping its history), and a removed user loses the store.

Generic over the partner: the connector's own routes (``connectors/<kind>/web_routes``)
check the partner's signatures and codes and call these with plain values.

- ``install_app``: the store is the one this partner store installed before, else the
  one already connected to it (an API account), else a new one. The credentials are
  checked and the webhooks registered by ``connect_partner`` before anything is saved;
  a store created for an install that then fails is removed again.
- The install opens no dashboard session (its callback URL would be a login link for
  whoever opened it first); the first signed load does.
- ``open_app_session``: the partner's user becomes (once) a dashboard user without a
  password, granted this store; the session may be framed by the given origins only.
- ``uninstall_app``: the web connection's secrets are deleted (token, webhook secret:
  deliveries are refused from then on), the store's enabled schedules are turned off and
  remembered, queued runs end as failed with the reason, the partner's users lose the
  store; runs, orders and the catalog stay. Installing again turns the same schedules
  back on.
- ``remove_app_user``: the partner's user loses the store (the owner's access goes only
  with the app).

Signed callbacks (load, uninstall, remove_user: ``SignedCall``) act once each: a ``jti``
seen before is refused until its JWT expires, and so is one issued before the app's
latest install (an uninstall link of the last install replayed after a re-install) or,
for a load, before the partner last removed that user (a load link replayed after
``remove_user`` does not grant the store again). Times are compared to the second the
partner stamps (``iat``): a link issued in the very second of an install is accepted.

Errors: ``AppNotInstalled`` (no live install for that partner store), ``CallRefused``
(a signed callback used before, or issued too early), ``InvalidSetting``,
``ConnectFailed`` (from ``connect_partner``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.db.app_installs import AppInstallRepository
from stockbridge.db.models import AppInstall, Store
from stockbridge.db.uow import UnitOfWork
from stockbridge.services.connections import connect_partner
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.stores import MAX_NAME, add_store
from stockbridge.services.webhooks import events as webhook_events

__all__ = [
    "APP_SESSION_LIFETIME",
    "AppNotInstalled",
    "AppSession",
    "CallRefused",
    "Installed",
    "PartnerUser",
    "SignedCall",
    "Uninstalled",
    "install_app",
    "open_app_session",
    "remove_app_user",
    "uninstall_app",
]

#: An app session lives as long as the partner's signed load link (24 hours at most).
APP_SESSION_LIFETIME = timedelta(hours=12)
UNINSTALLED = "uninstalled"


class AppNotInstalled(LookupError):
    """No live install of the app for that partner store."""


class CallRefused(PermissionError):
    """A signed callback used before, or issued before the latest install (or, for a
    load, before its user was removed). The message is safe to show."""


@dataclass(frozen=True)
class SignedCall:
    """A partner's signed callback: its id (``jti``), when it was issued and until when
    it is valid (seconds since the epoch, as the partner stamped them)."""

    jti: str
    issued_at: int
    expires_at: int


def _use_once(
    apps: AppInstallRepository, kind: str, install: AppInstall, call: SignedCall, now: datetime
) -> None:
    """Refuse ``call`` if it was used before or issued before ``install``; record it."""
    expires = datetime.fromtimestamp(max(call.expires_at, int(now.timestamp())) + 60, UTC)
    if not apps.use_call(kind, call.jti, expires, now):
        raise CallRefused("this signed link was used already: open the app again")
    if call.issued_at < int(install.installed_at.timestamp()):  # rolled back with the use
        raise CallRefused("this signed link was issued before the app's latest install")


@dataclass(frozen=True)
class PartnerUser:
    """A user of the partner (its own id and email)."""

    external_id: str
    email: str


@dataclass(frozen=True)
class Installed:
    store: str
    created: bool  # a new hub store
    reenabled: bool  # installed before, uninstalled, now installed again
    reached: str  # what the credentials check reached (and the webhooks registered)


@dataclass(frozen=True)
class AppSession:
    store: str
    user: str
    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class Uninstalled:
    store: str
    already: bool
    paused_schedules: int
    failed_queued_runs: int
    users_removed: int


def install_app(
    hub: Hub,
    *,
    kind: str,
    external_id: str,
    store_name: str,
    match_setting: str,
    settings_for: Callable[[str], dict[str, Any]],
    secrets: dict[str, str],
    installer: PartnerUser,
    owner: PartnerUser | None,
    scope: str | None,
    account_uuid: str | None,
    now: datetime | None = None,
) -> Installed:
    """Install the app for the partner store ``external_id`` (see the module). The new
    store, if one is made, is called ``store_name`` (made unique). ``settings_for(name)``
    gives the web connection's settings for the store's final name. Returns the store.
    No session is opened: the install callback's URL carries the one-time code in its
    query, and whoever opened it first would be signed in as the installer (a login
    link). The installer gets the dashboard from the partner's signed load, used once
    (``open_app_session``)."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        uow.read_only()
        apps = AppInstallRepository(uow.session)
        found = apps.install(kind, external_id)
        store = uow.stores.get(found.store_id) if found is not None else None
        if store is None:
            store = apps.store_connected_to(kind, match_setting, external_id)
        existing = store.name if store is not None else None
        name = ""
        reenabled = found is not None and found.uninstalled_at is not None
        if existing is None:
            name = _free_store_name(uow, store_name)
    created = existing is None
    if created:
        existing = add_store(hub, name).name
    assert existing is not None
    try:
        reached = connect_partner(
            hub,
            existing,
            role="web",
            kind=kind,
            settings=settings_for(existing),
            secrets=secrets,
        )
    except Exception:
        if created:
            _remove_store(hub, existing)
        raise
    with hub.uow() as uow:
        apps = AppInstallRepository(uow.session)
        store_row = uow.stores.by_name(existing)
        assert store_row is not None
        install = apps.install(kind, external_id)
        if install is None:
            install = AppInstall(
                kind=kind, external_id=external_id, store_id=store_row.id, installed_at=now
            )
            install.paused_schedules = []
            uow.session.add(install)
        install.store_id = store_row.id
        install.installed_at = now
        install.uninstalled_at = None
        install.scope = scope
        install.account_uuid = account_uuid
        if owner is not None:
            install.owner_external_id = owner.external_id
        apps.resume_schedules(store_row.id, [int(i) for i in install.paused_schedules or []], now)
        install.paused_schedules = []
        for person in {p.external_id: p for p in (owner, installer) if p is not None}.values():
            apps.grant(_app_user(apps, kind, person, now), store_row.id)
        uow.commit()
    return Installed(existing, created, reenabled, reached)


def open_app_session(
    hub: Hub,
    *,
    kind: str,
    external_id: str,
    user: PartnerUser,
    frame_ancestors: str,
    call: SignedCall,
    now: datetime | None = None,
) -> AppSession:
    """A dashboard session for the partner's ``user`` on the store the app is installed
    for; the user is made and granted the store on their first load. ``CallRefused``
    for a load link used before, issued before the install or the user's removal."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        apps = AppInstallRepository(uow.session)
        install, store = _live_install(uow, apps, kind, external_id)
        removed = apps.user_removed_at(kind, external_id, user.external_id)
        if removed is not None and call.issued_at < removed.timestamp():
            raise CallRefused("this signed link was issued before the user lost the store")
        _use_once(apps, kind, install, call, now)
        user_id = _app_user(apps, kind, user, now)
        apps.grant(user_id, store.id)
        found = uow.users.get(user_id)
        assert found is not None
        session_id, csrf = uow.users.open_session(
            user_id, now, APP_SESSION_LIFETIME, frame_ancestors=frame_ancestors
        )
        uow.commit()
        return AppSession(store.name, found.name, session_id, csrf)


def uninstall_app(
    hub: Hub,
    *,
    kind: str,
    external_id: str,
    reason: str,
    call: SignedCall,
    now: datetime | None = None,
) -> Uninstalled:
    """Stop the store syncing and delete its token (see the module). A repeated uninstall
    changes nothing (``already``); ``CallRefused`` for a link used before or issued
    before the latest install."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        apps = AppInstallRepository(uow.session)
        install = apps.install(kind, external_id)
        store = uow.stores.get(install.store_id) if install is not None else None
        if install is None or store is None:
            raise AppNotInstalled(f"the app is not installed for {external_id!r}")
        _use_once(apps, kind, install, call, now)
        if install.uninstalled_at is not None:
            uow.commit()
            return Uninstalled(store.name, True, 0, 0, 0)
        connection = apps.web_connection(store.id, kind)
        if connection is not None:
            connection.credentials = None  # the token and the webhook secret
            connection.health = UNINSTALLED
            connection.last_error = reason
        paused = apps.pause_schedules(store.id, now)
        install.paused_schedules = paused
        install.uninstalled_at = now
        failed = apps.fail_queued_runs(store.id, reason, now)
        users = apps.app_users_of(kind, store.id)
        for user_id in users:
            apps.revoke(user_id, store.id)
        uow.commit()
        name = store.name
    webhook_events(hub).changed(kind, name)  # receivers drop the secret they cached
    return Uninstalled(name, False, len(paused), failed, len(users))


def remove_app_user(
    hub: Hub,
    *,
    kind: str,
    external_id: str,
    user: PartnerUser,
    call: SignedCall,
    now: datetime | None = None,
) -> bool:
    """Take the store away from the partner's ``user``; False if they did not have it.
    The owner's access is not removed (``InvalidSetting``). The removal's time is kept:
    a load link issued before it no longer opens the store for that user."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        apps = AppInstallRepository(uow.session)
        install, store = _live_install(uow, apps, kind, external_id)
        if install.owner_external_id == user.external_id:
            raise InvalidSetting("the store owner keeps the app's store until it is uninstalled")
        _use_once(apps, kind, install, call, now)
        apps.note_user_removed(kind, external_id, user.external_id, now)
        found = apps.app_user(kind, user.external_id)
        removed = found is not None and apps.revoke(found.user_id, store.id)
        uow.commit()
        return removed


def _live_install(
    uow: UnitOfWork, apps: AppInstallRepository, kind: str, external_id: str
) -> tuple[AppInstall, Store]:
    install = apps.install(kind, external_id)
    store = uow.stores.get(install.store_id) if install is not None else None
    if install is None or store is None or install.uninstalled_at is not None:
        raise AppNotInstalled(f"the app is not installed for {external_id!r}")
    return install, store


def _app_user(apps: AppInstallRepository, kind: str, person: PartnerUser, now: datetime) -> int:
    """The dashboard user standing for the partner's user, made on first sight."""
    found = apps.app_user(kind, person.external_id)
    if found is not None:
        return found.user_id
    name = f"{person.email} ({kind})"[:MAX_NAME]
    if apps.name_taken(name):
        name = f"{person.email[:60]} ({kind} user {person.external_id})"[:MAX_NAME]
    return apps.add_app_user(kind, person.external_id, person.email, name, now).user_id


def _free_store_name(uow: UnitOfWork, wanted: str) -> str:
    name = wanted[:MAX_NAME]
    number = 2
    while uow.stores.by_name(name) is not None:
        suffix = f"-{number}"
        name = wanted[: MAX_NAME - len(suffix)] + suffix
        number += 1
    return name


def _remove_store(hub: Hub, name: str) -> None:
    """Remove a store made a moment ago for an install that failed (it holds nothing)."""
    with hub.uow() as uow:
        store = uow.stores.by_name(name)
        if store is not None:
            uow.session.delete(store)
            uow.commit()
