"""The BigCommerce single-click app over real HTTP: the sandbox's consent page and token
endpoint, the hub's /bigcommerce/auth, load, uninstall and remove_user callbacks, and
what each leaves in the hub (store, encrypted token, webhooks, users, sessions, framing).
Bad input is refused with a clear 4xx and nothing saved."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bigcommerce
import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.requests import Request

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.connectors.bigcommerce.app import (
    AppConfig,
    CodeRefused,
    TokenEndpointError,
    exchange_code,
)
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SApp
from stockbridge.connectors.bigcommerce.webhooks import SCOPES, SECRET_HEADER
from stockbridge.db.models import (
    AppInstall,
    Connection,
    DashboardSession,
    Schedule,
    Store,
    SyncRun,
    User,
    UserStore,
)
from stockbridge.domain.model import Step, Trigger
from stockbridge.sandbox_server import ServerThread
from stockbridge.web.app import create_app
from stockbridge.web.dashboard.guard import FRAME_ANCESTORS, allow_framing
from tests.bc_helpers import SandboxStore, new_store
from tests.conftest import make_harness

SECRET = "app-client-secret-for-the-stockbridge-tests"
OTHER_SECRET = "not-the-client-secret-of-this-app-at-all"


class RecordingQueue:
    def __init__(self) -> None:
        self.runs: list[int] = []

    def submit_run(self, run_id: int) -> None:
        self.runs.append(run_id)

    def submit_inbox(self) -> None:
        pass


@dataclass
class AppEnv:
    hub: Hub
    server: ServerThread
    sandbox: BigCommerceSandbox
    bc: SandboxStore
    client_id: str
    queue: RecordingQueue = field(default_factory=RecordingQueue)

    @property
    def store_name(self) -> str:
        return f"bigcommerce-{self.bc.hash}"

    def http(self, session: str | None = None) -> httpx.Client:
        # The app session cookie is Secure: a cookie jar would not send it over http, so
        # tests send it by hand.
        cookies = {"sb_session": session} if session else None
        return httpx.Client(base_url=self.server.url, timeout=30, cookies=cookies)

    def sandbox_http(self) -> httpx.Client:
        return httpx.Client(base_url=self.bc.server.url, timeout=30)

    def owner_id(self) -> int:
        return self.sandbox.stores[self.bc.hash].owner().id

    def add_user(self, email: str) -> int:
        with self.sandbox_http() as client:
            answer = client.post(f"/admin/stores/{self.bc.hash}/users", json={"email": email})
            answer.raise_for_status()
            return int(answer.json()["id"])

    def auth_url(self, user_id: int | None = None) -> str:
        """The install click: the consent page, then its form; returns where BigCommerce
        sends the browser (the hub's auth callback with code, context and scope)."""
        user = user_id or self.owner_id()
        path = f"/app/{self.client_id}/install"
        with self.sandbox_http() as client:
            page = client.get(path, params={"store_hash": self.bc.hash, "user_id": user})
            assert page.status_code == 200 and "Install" in page.text
            click = client.post(path, data={"store_hash": self.bc.hash, "user_id": str(user)})
        assert click.status_code == 302
        return click.headers["location"]

    def install(self, user_id: int | None = None) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            return client.get(self.auth_url(user_id))

    def load_url(self, user_id: int | None = None) -> str:
        with self.sandbox_http() as client:
            answer = client.post(
                f"/admin/apps/{self.client_id}/stores/{self.bc.hash}/load",
                json={"user_id": user_id or self.owner_id()},
            )
            answer.raise_for_status()
            return str(answer.json()["url"])

    def fire(self, which: str, user_id: int | None = None) -> dict[str, Any]:
        with self.sandbox_http() as client:
            answer = client.post(
                f"/admin/apps/{self.client_id}/stores/{self.bc.hash}/{which}",
                json={"user_id": user_id or self.owner_id()},
            )
            answer.raise_for_status()
            return dict(answer.json())

    def claims(self, **changes: Any) -> dict[str, Any]:
        moment = int(time.time())
        owner = self.sandbox.stores[self.bc.hash].owner()
        claims: dict[str, Any] = {
            "aud": self.client_id,
            "iss": "bc",
            "iat": moment,
            "nbf": moment,
            "exp": moment + 86_400,
            "jti": str(uuid.uuid4()),
            "sub": f"stores/{self.bc.hash}",
            "user": {"id": owner.id, "email": owner.email, "locale": "en-US"},
            "owner": {"id": owner.id, "email": owner.email},
            "url": "/",
            "channel_id": None,
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None or k == "channel_id"}

    def jwt(self, secret: str = SECRET, **changes: Any) -> str:
        return jwt.encode(self.claims(**changes), secret, algorithm="HS256")

    def count(self, model: type[Any]) -> int:
        with self.hub.uow() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)

    def store_id(self) -> int:
        with self.hub.uow() as uow:
            store = uow.stores.by_name(self.store_name)
            assert store is not None
            return store.id

    def web_connection(self) -> Connection:
        with self.hub.uow() as uow:
            row = uow.session.scalar(
                select(Connection).where(Connection.role == "web", Connection.kind == "bigcommerce")
            )
            assert row is not None
            uow.session.expunge(row)
            return row


def _app_env(
    database_url: str, tmp_path: Any, bc_sandbox: tuple[BigCommerceSandbox, ServerThread]
) -> Iterator[AppEnv]:
    harness = make_harness(tmp_path, database_url)
    hub = harness.hub
    hub.partners_override = None  # the real registry and saved connections
    sandbox, sandbox_server = bc_sandbox
    bc = new_store(sandbox, sandbox_server)
    queue = RecordingQueue()
    server = ServerThread(create_app(hub, queue)).start()
    client_id = f"app-{bc.hash}"
    sandbox.apps[client_id] = SApp(
        client_id=client_id,
        client_secret=SECRET,
        auth_callback=f"{server.url}/bigcommerce/auth",
        load_callback=f"{server.url}/bigcommerce/load",
        uninstall_callback=f"{server.url}/bigcommerce/uninstall",
        remove_user_callback=f"{server.url}/bigcommerce/remove_user",
        scope="store_v2_orders store_v2_products",
    )
    settings = hub.settings
    settings.bigcommerce_client_id = client_id
    settings.bigcommerce_client_secret = SecretStr(SECRET)
    settings.bigcommerce_app_url = server.url
    settings.bigcommerce_login_url = sandbox_server.url
    settings.bigcommerce_api_url = sandbox_server.url
    yield AppEnv(hub, server, sandbox, bc, client_id, queue)
    server.stop()
    hub.engine.dispose()


@pytest.fixture
def app(tmp_path: Any, bc_sandbox: tuple[BigCommerceSandbox, ServerThread]) -> Iterator[AppEnv]:
    yield from _app_env(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, bc_sandbox)


@pytest.fixture
def app_any_db(
    tmp_path: Any, database_url: str, bc_sandbox: tuple[BigCommerceSandbox, ServerThread]
) -> Iterator[AppEnv]:
    yield from _app_env(database_url, tmp_path, bc_sandbox)


def _session_of(response: httpx.Response) -> str:
    cookie = response.headers["set-cookie"]
    for part in ("SameSite=none", "Secure", "HttpOnly", "Partitioned"):
        assert part.lower() in cookie.lower(), cookie
    return cookie.split(";")[0].split("=", 1)[1]


# install --------------------------------------------------------------------------------


def test_install_creates_the_store_with_its_token_encrypted_and_webhooks_registered(
    app_any_db: AppEnv,
) -> None:
    app = app_any_db
    answer = app.install()
    assert answer.status_code == 200, answer.text
    assert app.store_name in answer.text
    policy = answer.headers["content-security-policy"]
    assert f"frame-ancestors https://store-{app.bc.hash}.mybigcommerce.com" in policy
    # The install URL is no login link (issue 27, row 6): no session; the signed load is.
    assert "set-cookie" not in answer.headers and "Apps menu" in answer.text
    with httpx.Client(timeout=30) as browser:
        session = _session_of(browser.get(app.load_url()))

    token = app.sandbox.stores[app.bc.hash].app_tokens[app.client_id]
    connection = app.web_connection()
    assert connection.settings["store_hash"] == app.bc.hash
    assert connection.settings["webhook_url"] == (
        f"{app.server.url}/webhooks/bigcommerce/{app.store_name}"
    )
    assert connection.credentials is not None and token.encode() not in connection.credentials
    assert app.hub.cipher.decrypt(connection.credentials)["access_token"] == token
    hooks = app.bc.counters()["hooks"]
    assert {h["scope"] for h in hooks if h["is_active"]} == set(SCOPES)
    assert {h["destination"] for h in hooks} == {connection.settings["webhook_url"]}

    # The saved connection works with the app's token (the store's own partner call).
    partners = app.hub.partners_for(app.store_id())
    assert partners.web is not None and app.bc.hash in partners.web.check()
    app.hub.release_partners(partners)

    # The owner (from the load) sees this store's dashboard, framed by the control panel only.
    with app.http(session) as client:
        page = client.get(f"/stores/{app.store_name}")
        assert page.status_code == 200
        assert "frame-ancestors https://store-" in page.headers["content-security-policy"]
        login = client.get("/login")
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    with app.hub.uow() as uow:
        grants = uow.session.execute(select(User.name, UserStore.store_id).join(UserStore)).all()
    assert grants == [(f"owner@{app.bc.hash}.example.com (bigcommerce)", app.store_id())]


def test_a_store_made_by_the_app_install_hides_sync_all(app: AppEnv) -> None:
    """The seed: Sync All is not visible until enabled in the store's Options (General)."""
    answer = app.install()
    assert answer.status_code == 200, answer.text
    with app.hub.uow() as uow:
        store = uow.stores.get(app.store_id())
        assert store is not None and store.sync_all_button is False
    with httpx.Client(timeout=30) as browser:  # the signed load opens the session (row 6)
        session = _session_of(browser.get(app.load_url()))
    with app.http(session) as client:
        page = client.get(f"/stores/{app.store_name}")
        assert page.status_code == 200
        assert 'id="sync-all"' not in page.text and "Options (General)" in page.text


def test_pages_of_an_ordinary_login_stay_unframable(app: AppEnv) -> None:
    services.add_store(app.hub, "plain")
    from stockbridge import accounts

    accounts.add_user(app.hub, "ann", "correct horse battery", operator=True)
    session, _ = accounts.log_in(app.hub, "ann", "correct horse battery", "127.0.0.1")
    with app.http(session) as client:
        page = client.get("/stores/plain")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_installing_again_re_enables_the_same_store(app_any_db: AppEnv) -> None:
    app = app_any_db
    assert app.install().status_code == 200
    services.set_schedule(app.hub, app.store_name, every_minutes=15)
    assert app.fire("uninstall")["status"] == 200
    assert app.web_connection().credentials is None

    again = app.install()
    assert again.status_code == 200 and "installed again" in again.text
    assert app.count(Store) == 1 and app.count(AppInstall) == 1
    assert app.count(Connection) == 1
    connection = app.web_connection()
    assert connection.health != "uninstalled" and connection.credentials is not None
    token = app.sandbox.stores[app.bc.hash].app_tokens[app.client_id]
    assert app.hub.cipher.decrypt(connection.credentials)["access_token"] == token
    with app.hub.uow() as uow:
        assert uow.session.scalars(select(Schedule.enabled)).all() == [True]
    # one hook per scope still (updated, not duplicated)
    assert len(app.bc.counters()["hooks"]) == len(SCOPES)


def test_install_adopts_the_store_already_connected_with_an_api_account(app: AppEnv) -> None:
    services.add_store(app.hub, "mine")
    services.connect_partner(
        app.hub,
        "mine",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": app.bc.hash, "api_url": app.bc.server.url},
        secrets={"access_token": app.bc.token},
    )
    answer = app.install()
    assert answer.status_code == 200 and "(mine)" in answer.text
    assert app.count(Store) == 1
    credentials = app.web_connection().credentials
    assert credentials is not None
    token = app.sandbox.stores[app.bc.hash].app_tokens[app.client_id]
    assert app.hub.cipher.decrypt(credentials)["access_token"] == token


# load -----------------------------------------------------------------------------------


def test_load_opens_the_store_dashboard_as_that_bigcommerce_user(app: AppEnv) -> None:
    assert app.install().status_code == 200
    clerk = app.add_user("clerk@example.com")
    services.add_store(app.hub, "someone-else")
    with httpx.Client(timeout=30) as client:
        answer = client.get(app.load_url(clerk))
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/stores/{app.store_name}"
    session = _session_of(answer)
    with app.http(session) as client:
        page = client.get(f"/stores/{app.store_name}")
        other = client.get("/stores/someone-else")
    assert page.status_code == 200
    assert (
        f"https://store-{app.bc.hash}.mybigcommerce.com"
        in (page.headers["content-security-policy"])
    )
    assert other.status_code == 404
    with app.hub.uow() as uow:
        user = uow.users.by_name("clerk@example.com (bigcommerce)")
        assert user is not None and not user.operator
        assert list(uow.users.store_names(user.id)) == [app.store_name]
    # a second load is the same user, not a new one
    with httpx.Client(timeout=30) as client:
        assert client.get(app.load_url(clerk)).status_code == 303
    assert app.count(User) == 2


def _bad_tokens(app: AppEnv) -> dict[str, tuple[str, int, str]]:
    past = int(time.time()) - 3 * 86_400
    stranger = new_store(app.sandbox, app.bc.server)
    return {
        "expired": (app.jwt(iat=past, nbf=past, exp=past + 86_400), 401, "expired"),
        "wrong signature": (app.jwt(secret=OTHER_SECRET), 401, "signature"),
        "wrong audience": (app.jwt(aud="another-app"), 401, "another app"),
        "wrong issuer": (app.jwt(iss="someone"), 401, "not issued by BigCommerce"),
        "no expiry": (app.jwt(exp=None), 401, "lacks the exp claim"),
        "not a store": (app.jwt(sub="users/1"), 401, "not a store"),
        "no user": (app.jwt(user={"id": "x"}), 401, "no user"),
        "malformed": ("not.a.jwt", 401, "malformed"),
        "oversized": ("a" * 9000, 401, "over"),
        "store not installed": (app.jwt(sub=f"stores/{stranger.hash}"), 404, "not installed"),
    }


def test_load_refuses_bad_payloads_and_saves_nothing(app: AppEnv) -> None:
    assert app.install().status_code == 200
    before = (app.count(User), app.count(DashboardSession), app.count(UserStore))
    with app.http() as client:
        for case, (token, status, says) in _bad_tokens(app).items():
            answer = client.get("/bigcommerce/load", params={"signed_payload_jwt": token})
            assert answer.status_code == status, (case, answer.text)
            assert says in answer.text, (case, answer.text)
            assert "set-cookie" not in answer.headers, case
        missing = client.get("/bigcommerce/load")
        assert missing.status_code == 400 and "signed_payload_jwt" in missing.text
        good = client.get("/bigcommerce/load", params={"signed_payload_jwt": app.jwt()})
        assert good.status_code == 303  # the same kind of token, well made, opens
    after = (app.count(User), app.count(DashboardSession) - 1, app.count(UserStore))
    assert after == before


def test_load_accepts_a_minute_of_clock_skew_only(app: AppEnv) -> None:
    assert app.install().status_code == 200
    moment = int(time.time())
    ahead = app.jwt(iat=moment + 30, nbf=moment + 30)
    too_far = app.jwt(iat=moment + 300, nbf=moment + 300)
    with app.http() as client:
        ok = client.get("/bigcommerce/load", params={"signed_payload_jwt": ahead})
        early = client.get("/bigcommerce/load", params={"signed_payload_jwt": too_far})
    assert ok.status_code == 303
    assert early.status_code == 401 and "not valid yet" in early.text


# uninstall / remove_user ------------------------------------------------------------------


def test_uninstall_stops_syncing_deletes_the_token_and_keeps_history(app: AppEnv) -> None:
    assert app.install().status_code == 200
    with httpx.Client(timeout=30) as browser:
        owner_session = _session_of(browser.get(app.load_url()))
    old_secret = app.hub.cipher.decrypt(app.web_connection().credentials or b"")["webhook_secret"]
    services.set_schedule(app.hub, app.store_name, every_minutes=15)
    done = services.request_sync(app.hub, services.RequestSync(app.store_name, (Step.ORDERS_IN,)))
    queued = services.request_sync(
        app.hub, services.RequestSync(app.store_name, (Step.INVENTORY_OUT,), Trigger.SCHEDULE)
    )
    with app.hub.uow() as uow:
        run = uow.session.get(SyncRun, done.run_id)
        assert run is not None
        run.status, run.finished_at = "succeeded", datetime.now(UTC)
        uow.commit()

    fired = app.fire("uninstall")
    assert fired["status"] == 200, fired
    assert fired["body"]["paused_schedules"] == 1 and fired["body"]["failed_queued_runs"] == 1

    connection = app.web_connection()
    assert connection.credentials is None and connection.health == "uninstalled"
    assert "uninstalled" in (connection.last_error or "")
    with app.hub.uow() as uow:
        assert uow.session.scalars(select(Schedule.enabled)).all() == [False]
        statuses = dict(uow.session.execute(select(SyncRun.id, SyncRun.status)).all())
    assert statuses == {done.run_id: "succeeded", queued.run_id: "failed"}  # history kept
    # the scheduler queues nothing for it any more
    assert app.hub.scheduler().tick(datetime.now(UTC) + timedelta(hours=2)) == []
    # a webhook with the old secret is refused; the owner's session no longer sees it
    with app.http(owner_session) as client:
        hook = client.post(
            f"/webhooks/bigcommerce/{app.store_name}",
            content=b"{}",
            headers={SECRET_HEADER: old_secret, "Content-Type": "application/json"},
        )
        page = client.get(f"/stores/{app.store_name}")
    assert hook.status_code == 401
    assert page.status_code in (303, 404)
    # a load for it now says it is not installed; a second uninstall changes nothing
    with httpx.Client(timeout=30) as client:
        assert client.get(app.load_url()).status_code == 404
    assert app.fire("uninstall")["body"]["already"] is True


def test_remove_user_takes_the_store_away_from_that_user_only(app: AppEnv) -> None:
    assert app.install().status_code == 200
    clerk = app.add_user("clerk@example.com")
    with httpx.Client(timeout=30) as client:
        clerk_session = _session_of(client.get(app.load_url(clerk)))
    fired = app.fire("remove_user", clerk)
    assert fired == {"status": 200, "body": {"user": str(clerk), "removed": True}}
    with app.http(clerk_session) as client:
        assert client.get(f"/stores/{app.store_name}").status_code in (303, 404)
    with app.hub.uow() as uow:
        owner = uow.users.by_name(f"owner@{app.bc.hash}.example.com (bigcommerce)")
        assert owner is not None and list(uow.users.store_names(owner.id)) == [app.store_name]
    # the owner keeps the store; an unknown user has nothing to remove
    with app.http() as client:
        owner_gone = client.get(
            "/bigcommerce/remove_user", params={"signed_payload_jwt": app.jwt()}
        )
        nobody = client.get(
            "/bigcommerce/remove_user",
            params={"signed_payload_jwt": app.jwt(user={"id": 42, "email": "x@example.com"})},
        )
    assert owner_gone.status_code == 409
    assert nobody.status_code == 200 and nobody.json()["removed"] is False


def test_uninstall_and_remove_user_refuse_bad_payloads(app: AppEnv) -> None:
    assert app.install().status_code == 200
    with app.http() as client:
        for path in ("/bigcommerce/uninstall", "/bigcommerce/remove_user"):
            for case, (token, status, says) in _bad_tokens(app).items():
                answer = client.get(path, params={"signed_payload_jwt": token})
                assert answer.status_code == status, (path, case, answer.text)
                assert says in answer.json()["error"], (path, case)
            assert client.get(path).status_code == 400
    connection = app.web_connection()
    assert connection.credentials is not None and connection.health != "uninstalled"


# bad installs -----------------------------------------------------------------------------


def test_install_callback_refuses_bad_input_and_saves_nothing(app: AppEnv) -> None:
    url = app.auth_url()
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    cases: dict[str, dict[str, str]] = {
        "no code": {k: v for k, v in query.items() if k != "code"},
        "no scope": {k: v for k, v in query.items() if k != "scope"},
        "no context": {k: v for k, v in query.items() if k != "context"},
        "bad context": {**query, "context": "stores/../x"},
        "long code": {**query, "code": "c" * 600},
        "unknown code": {**query, "code": "not-a-code"},
        "another store": {**query, "context": "stores/zzz"},
        "other scope": {**query, "scope": "store_v2_orders"},
    }
    with app.http() as client:
        for case, params in cases.items():
            answer = client.get("/bigcommerce/auth", params=params)
            assert answer.status_code == 400, (case, answer.text)
            assert "set-cookie" not in answer.headers
    assert app.count(Store) == 0 and app.count(User) == 0
    # each refused exchange used the code up (single use): the real one is spent as well
    with httpx.Client(timeout=30) as client:
        spent = client.get(url)
    assert spent.status_code == 400 and "used already" in spent.text
    assert app.count(Store) == 0


def test_a_code_works_once(app: AppEnv) -> None:
    url = app.auth_url()
    with httpx.Client(timeout=30) as client:
        assert client.get(url).status_code == 200
        again = client.get(url)
    assert again.status_code == 400 and "used already" in again.text
    assert app.count(Store) == 1 and app.count(AppInstall) == 1


def test_an_install_whose_store_cannot_be_reached_leaves_nothing(app: AppEnv) -> None:
    app.bc.faults(plan=["5xx"] * 10)
    answer = app.install()
    assert answer.status_code == 502 and "could not reach bigcommerce" in answer.text
    assert app.count(Store) == 0 and app.count(AppInstall) == 0 and app.count(User) == 0


def test_routes_say_what_is_missing_when_the_app_is_not_set_up(app: AppEnv) -> None:
    app.hub.settings.bigcommerce_client_secret = None
    with app.http() as client:
        for path in ("/bigcommerce/auth", "/bigcommerce/load", "/bigcommerce/uninstall"):
            answer = client.get(path, params={"signed_payload_jwt": app.jwt()})
            assert answer.status_code == 503
            assert "STOCKBRIDGE_BIGCOMMERCE_CLIENT_SECRET" in answer.text


def test_an_unreachable_token_endpoint_is_a_502(app: AppEnv) -> None:
    url = app.auth_url()
    app.hub.settings.bigcommerce_login_url = "http://127.0.0.1:9"
    with httpx.Client(timeout=30) as client:
        answer = client.get(url)
    assert answer.status_code == 502 and "did not answer" in answer.text
    assert app.count(Store) == 0


# the sandbox follows BigCommerce ----------------------------------------------------------


def test_sandbox_token_endpoint_checks_client_redirect_and_code(app: AppEnv) -> None:
    def code() -> dict[str, str]:
        query = parse_qs(urlsplit(app.auth_url()).query)
        return {k: v[0] for k, v in query.items()}

    def exchange(**changes: str) -> httpx.Response:
        issued = code()
        body = {
            "client_id": app.client_id,
            "client_secret": SECRET,
            "code": issued["code"],
            "context": issued["context"],
            "scope": issued["scope"],
            "grant_type": "authorization_code",
            "redirect_uri": f"{app.server.url}/bigcommerce/auth",
            **changes,
        }
        with app.sandbox_http() as client:
            return client.post("/oauth2/token", json=body)

    assert exchange(client_secret="wrong").status_code == 401
    assert exchange(redirect_uri="https://evil.example/auth").json()["error"] == "invalid_grant"
    assert exchange(grant_type="password").status_code == 400
    good = exchange()
    assert good.status_code == 200
    body = good.json()
    assert set(body) == {"access_token", "scope", "user", "owner", "context", "account_uuid"}
    assert set(body["user"]) == {"id", "username", "email"}


def test_sandbox_payloads_pass_bigcommerces_own_python_client(app: AppEnv) -> None:
    url = app.load_url()
    token = parse_qs(urlsplit(url).query)["signed_payload_jwt"][0]
    claims = bigcommerce.api.BigcommerceApi.oauth_verify_payload_jwt(token, SECRET, app.client_id)
    assert claims["sub"] == f"stores/{app.bc.hash}" and claims["iss"] == "bc"
    assert claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == 86_400


# the token endpoint's answers the hub refuses ----------------------------------------------

CONFIG = AppConfig("cid", SECRET, "https://hub.example.com", "https://login.example.com")


@pytest.mark.parametrize(
    ("status", "body", "error", "says"),
    [
        (400, b'{"error": "invalid_grant"}', CodeRefused, "invalid_grant"),
        (401, b'{"error": "invalid_client"}', CodeRefused, "refused"),
        (500, b"{}", TokenEndpointError, "500"),
        (200, b"<html>", TokenEndpointError, "not JSON"),
        (200, b'{"scope": "x", "context": "stores/abc"}', TokenEndpointError, "lacks"),
        (
            200,
            b'{"access_token": "t", "context": "stores/other", '
            b'"user": {"id": 1, "email": "a@b.c"}}',
            TokenEndpointError,
            "not 'stores/abc'",
        ),
    ],
)
def test_token_answers_that_are_not_a_grant_are_refused(
    status: int, body: bytes, error: type[Exception], says: str
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client, pytest.raises(error) as exc:
        exchange_code(CONFIG, code="c", scope="s", context="stores/abc", client=client)
    assert says in str(exc.value)
    sent = seen[0]
    assert str(sent.url) == "https://login.example.com/oauth2/token"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content)["redirect_uri"] == "https://hub.example.com/bigcommerce/auth"


@pytest.mark.parametrize(
    "origins",
    [
        "https://store-abc.mybigcommerce.com; script-src *",
        "'self'",
        "https://a.example.com/path",
        "https://a.example.com 'unsafe-inline'",
        "",
    ],
)
def test_only_plain_origins_may_frame_a_page(origins: str) -> None:
    request = Request({"type": "http", "headers": [], "state": {}})
    allow_framing(request, origins)
    assert FRAME_ANCESTORS not in request.scope["state"]
    allow_framing(request, "https://store-abc.mybigcommerce.com  https://*.example.com:8443")
    assert request.scope["state"][FRAME_ANCESTORS] == (
        "https://store-abc.mybigcommerce.com https://*.example.com:8443"
    )
