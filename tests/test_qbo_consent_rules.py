"""The rules under "Connect to QuickBooks" without a browser: the sandbox's authorization
and token endpoints as strict as Intuit documents them, and a state used up exactly once
when two processes present it at the same moment (PostgreSQL and SQLite)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.db.models import OAuthGrant
from stockbridge.sandbox_server import ServerThread
from stockbridge.services import oauth

CLIENT = ("sandbox-client-id", "sandbox-client-secret")
BACK = "http://127.0.0.1:9/oauth/qbo/callback"
ASK = {
    "client_id": CLIENT[0],
    "response_type": "code",
    "scope": "com.intuit.quickbooks.accounting",
    "redirect_uri": BACK,
    "state": "s1",
}


def sent_back(answer: httpx.Response) -> dict[str, str]:
    location = answer.headers["location"]
    assert location.startswith(BACK)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(client: httpx.Client, code: str, redirect_uri: str = BACK) -> tuple[int, str]:
    answer = client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=CLIENT,
    )
    return answer.status_code, answer.json().get("error", "")


def test_the_sandbox_consent_and_code_rules() -> None:
    sandbox = QboSandbox()
    with ServerThread(sandbox) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/connect/oauth2", params=ASK).status_code == 200
        # no redirect at all for an unknown app or an unregistered redirect URI
        assert client.get("/connect/oauth2", params=ASK | {"client_id": "x"}).status_code == 400
        sandbox.books.redirect_uris = {"https://hub.example/oauth/qbo/callback"}
        assert client.get("/connect/oauth2", params=ASK).status_code == 400
        sandbox.books.redirect_uris = {BACK}
        # errors the app must see come back to it, with its state
        wrong_type = client.get("/connect/oauth2", params=ASK | {"response_type": "token"})
        assert sent_back(wrong_type) == {"error": "unsupported_response_type", "state": "s1"}
        no_scope = client.get("/connect/oauth2", params=ASK | {"scope": "openid"})
        assert sent_back(no_scope)["error"] == "invalid_scope"
        cancelled = client.post("/connect/oauth2", data=ASK | {"decision": "cancel"})
        assert sent_back(cancelled) == {"error": "access_denied", "state": "s1"}

        def code() -> str:
            given = client.post("/connect/oauth2", data=ASK | {"decision": "connect"})
            back = sent_back(given)
            assert back["state"] == "s1" and back["realmId"] == sandbox.books.realm_id
            return back["code"]

        first = code()
        assert exchange(client, first) == (200, "")
        assert exchange(client, first) == (400, "invalid_grant")  # a code works once
        assert exchange(client, code(), "http://127.0.0.1:9/else") == (400, "invalid_grant")
        late = code()
        sandbox.books.clock_offset += sandbox.books.code_lifetime + 1
        assert exchange(client, late) == (400, "invalid_grant")
        # the revoke endpoint takes Intuit's JSON body only
        token = sandbox.books.issue_refresh_token()
        form = client.post("/v2/oauth2/tokens/revoke", data={"token": token}, auth=CLIENT)
        assert form.status_code == 400
        assert client.post(
            "/v2/oauth2/tokens/revoke", json={"token": token}, auth=CLIENT
        ).is_success


POSTGRES = pytest.param("postgresql", marks=pytest.mark.postgres)


def race(hubs: tuple[Hub, Hub], state: str) -> list[str]:
    """Both hubs present ``state`` at once; what each got."""
    outcomes: list[str] = []
    gate = threading.Barrier(len(hubs))

    def take(hub: Hub) -> None:
        gate.wait()
        try:
            oauth.take_state(hub, "qbo", state, ["session:abc"])
            outcomes.append("taken")
        except oauth.OAuthRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=take, args=(hub,)) for hub in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


@pytest.mark.parametrize("database", ["sqlite", POSTGRES])
def test_a_state_is_used_up_once_when_two_processes_present_it_together(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("postgres_url")
        if database == "postgresql"
        else f"sqlite:///{tmp_path / 'hub.db'}"
    )
    first = bootstrap(Settings(home=tmp_path / "home", database_url=url))
    first.initialise()
    second = bootstrap(Settings(home=tmp_path / "home", database_url=url))  # another process
    services.add_store(first, "shop")
    for _ in range(5):
        state = oauth.begin(first, "qbo", "shop", binding="session:abc")
        assert race((first, second), state) == ["refused", "taken"]
    first.engine.dispose()
    second.engine.dispose()


def _link_hub(tmp_path: Path) -> Hub:
    hub = bootstrap(Settings(home=tmp_path / "home"))
    hub.initialise()
    services.add_store(hub, "shop")
    services.add_store(hub, "other")  # exists: a link for "shop" is refused by its store
    return hub


def test_a_start_link_not_opened_in_time_ends_the_waiting_command(tmp_path: Path) -> None:
    hub = _link_hub(tmp_path)
    link, name = oauth.create_link(hub, "qbo", "shop")
    assert name == "shop" and oauth.link_outcome(hub, link) is None
    later = datetime.now(UTC) + oauth.LINK_LIFETIME + timedelta(seconds=1)
    assert oauth.link_outcome(hub, link, later) == (
        "failed",
        "the link was not opened within 10 minutes",
    )
    hub.engine.dispose()


def test_a_start_link_works_for_its_own_store_only_and_once(tmp_path: Path) -> None:
    """The other store exists and the link is fresh: only the store rule refuses it."""
    hub = _link_hub(tmp_path)
    link, _ = oauth.create_link(hub, "qbo", "shop")
    with pytest.raises(oauth.OAuthRefused, match="not valid"):
        oauth.use_link(hub, "qbo", "other", link)  # made for another store
    oauth.use_link(hub, "qbo", "shop", link)  # unused by the refusal: still good
    with pytest.raises(oauth.OAuthRefused, match="used or has expired"):
        oauth.use_link(hub, "qbo", "shop", link)  # once only
    hub.engine.dispose()


def test_a_start_link_past_its_lifetime_is_refused(tmp_path: Path) -> None:
    """The link is used (for its own store, never used before) after it expired: only
    the expiry refuses it."""
    hub = _link_hub(tmp_path)
    link, _ = oauth.create_link(hub, "qbo", "shop")
    with hub.uow() as uow:  # eleven minutes later
        uow.session.execute(
            update(OAuthGrant)
            .where(OAuthGrant.purpose == "link")
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        uow.commit()
    with pytest.raises(oauth.OAuthRefused, match="used or has expired"):
        oauth.use_link(hub, "qbo", "shop", link)
    assert oauth.link_outcome(hub, link) == ("failed", "the link was not opened within 10 minutes")
    hub.engine.dispose()
