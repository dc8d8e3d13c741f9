"""Issue 27, rows 3 and 5: BigCommerce's signed callbacks (load, uninstall, remove_user)
act once per ``jti`` until they expire, and are refused when issued before the app's
latest install or, for a load, before the user's removal. Real signed tokens (the
sandbox's, or signed here with the app's client secret) against a running hub."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.db.models import AppInstall, DashboardSession
from stockbridge.sandbox_server import ServerThread
from tests.test_bigcommerce_app import AppEnv, _app_env


@pytest.fixture(name="app")
def app_fixture(
    tmp_path: Any, bc_sandbox: tuple[BigCommerceSandbox, ServerThread]
) -> Iterator[AppEnv]:
    yield from _app_env(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, bc_sandbox)


@pytest.fixture(name="app_any_db")
def app_any_db_fixture(
    tmp_path: Any, database_url: str, bc_sandbox: tuple[BigCommerceSandbox, ServerThread]
) -> Iterator[AppEnv]:
    yield from _app_env(database_url, tmp_path, bc_sandbox)


def _get(app: AppEnv, path: str, token: str) -> httpx.Response:
    with app.http() as client:
        return client.get(path, params={"signed_payload_jwt": token})


def _stores_of(app: AppEnv, user: str) -> list[str]:
    with app.hub.uow() as uow:
        found = uow.users.by_name(user)
        return [] if found is None else list(uow.users.store_names(found.id))


def _installed_second(app: AppEnv) -> int:
    with app.hub.uow() as uow:
        install = uow.session.scalar(select(AppInstall))
        assert install is not None
        return int(install.installed_at.timestamp())


def test_a_load_link_opens_one_session_even_when_opened_three_times_at_once(
    app_any_db: AppEnv,
) -> None:
    app = app_any_db
    assert app.install().status_code == 200
    url = app.load_url()  # the sandbox's real signed link
    sessions = app.count(DashboardSession)

    def open_it(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            return client.get(url)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(open_it, range(3)))
    assert sorted(a.status_code for a in answers) == [303, 401, 401]
    refused = [a for a in answers if a.status_code == 401]
    assert all("used already" in a.text and "set-cookie" not in a.headers for a in refused)
    assert app.count(DashboardSession) == sessions + 1
    with httpx.Client(timeout=30) as client:  # and later, once more
        again = client.get(url)
    assert again.status_code == 401 and "set-cookie" not in again.headers


def test_a_load_link_issued_before_remove_user_does_not_grant_the_store_again(
    app: AppEnv,
) -> None:
    assert app.install().status_code == 200
    clerk = app.add_user("clerk@example.com")
    name = "clerk@example.com (bigcommerce)"
    with httpx.Client(timeout=30) as client:
        assert client.get(app.load_url(clerk)).status_code == 303
    kept = app.load_url(clerk)  # a second link, issued before the removal, never opened
    assert app.fire("remove_user", clerk)["body"]["removed"] is True
    assert _stores_of(app, name) == []

    with httpx.Client(timeout=30) as client:
        replay = client.get(kept)
    assert replay.status_code == 401 and "before the user lost the store" in replay.text
    assert _stores_of(app, name) == []
    # a load issued after the removal (the owner added the clerk again) opens the store
    later = int(time.time()) + 2
    user = {"id": clerk, "email": "clerk@example.com", "locale": "en-US"}
    fresh = _get(app, "/bigcommerce/load", app.jwt(user=user, iat=later, nbf=later))
    assert fresh.status_code == 303, fresh.text
    assert _stores_of(app, name) == [app.store_name]


def test_an_uninstall_link_replayed_after_a_reinstall_changes_nothing(app: AppEnv) -> None:
    assert app.install().status_code == 200
    uninstall = app.jwt()
    first = _get(app, "/bigcommerce/uninstall", uninstall)
    assert first.status_code == 200 and first.json()["already"] is False
    assert app.install().status_code == 200  # installed again

    replay = _get(app, "/bigcommerce/uninstall", uninstall)
    assert replay.status_code == 401 and "used already" in replay.json()["error"]
    # another uninstall link of the last install (a fresh jti, issued before this one)
    before = _installed_second(app) - 5
    older = _get(app, "/bigcommerce/uninstall", app.jwt(iat=before, nbf=before))
    assert older.status_code == 401
    assert "before the app's latest install" in older.json()["error"]
    connection = app.web_connection()
    assert connection.credentials is not None and connection.health != "uninstalled"
    # a real uninstall of this install still works
    assert app.fire("uninstall")["body"]["already"] is False


def test_remove_user_and_load_links_work_once_and_not_from_before_the_install(
    app: AppEnv,
) -> None:
    assert app.install().status_code == 200
    clerk = app.add_user("clerk@example.com")
    user: dict[str, Any] = {"id": clerk, "email": "clerk@example.com", "locale": "en-US"}
    with httpx.Client(timeout=30) as client:
        assert client.get(app.load_url(clerk)).status_code == 303
    removal = app.jwt(user=user)
    assert _get(app, "/bigcommerce/remove_user", removal).json()["removed"] is True
    again = _get(app, "/bigcommerce/remove_user", removal)
    assert again.status_code == 401 and "used already" in again.json()["error"]

    helper = app.add_user("helper@example.com")
    other: dict[str, Any] = {"id": helper, "email": "helper@example.com", "locale": "en-US"}
    before = _installed_second(app) - 5
    for path in ("/bigcommerce/load", "/bigcommerce/remove_user"):
        early = _get(app, path, app.jwt(user=other, iat=before, nbf=before))
        assert early.status_code == 401, (path, early.text)
        assert "issued before the app" in early.text
        assert "set-cookie" not in early.headers
