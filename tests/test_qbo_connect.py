""" "Connect to QuickBooks" over HTTP against the sandbox's consent page: the round trip,
and every way it must fail with nothing saved (tampered, reused, expired or another
browser's state; denied consent; a reused code), and disconnect revoking the grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import update

from stockbridge.db.models import OAuthGrant
from tests.oauth_support import Site, fresh_site, served_site  # noqa: F401 - fixtures
from tests.qbo_support import CLIENT_ID, CLIENT_SECRET


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def callback(client: httpx.Client, url: str) -> httpx.Response:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def test_connecting_stores_the_grant_encrypted_with_the_realm(site: Site) -> None:
    with site.browser() as (client, _csrf):
        started = client.get("/oauth/qbo/start", params={"store": "shop"})
        assert started.status_code == 303
        asked = query_of(started.headers["location"])
        assert asked["scope"] == "com.intuit.quickbooks.accounting"
        assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
        assert asked["redirect_uri"] == f"{site.url}/oauth/qbo/callback"
        assert len(asked["state"]) >= 32
        back = site.answer(started.headers["location"], "connect")
        assert query_of(back)["realmId"] == site.qbo.realm
        done = callback(client, back)
        assert done.status_code == 303 and done.headers["location"] == "/stores/shop"
        page = client.get("/stores/shop").text
    assert "Disconnect" in page
    # the company connected, by the realm id the merchant sees in QuickBooks
    assert (
        f'QuickBooks company (realm id): <span class="code" data-account>{site.qbo.realm}' in page
    )
    saved = site.connection()
    assert saved is not None and saved["kind"] == "qbo" and saved["health"] == "connected"
    assert saved["settings"]["realm_id"] == site.qbo.realm
    secrets = saved["secrets"]
    assert secrets["refresh_token"].startswith("RT1-") and secrets["client_id"] == CLIENT_ID
    with site.hub.uow() as uow:  # encrypted at rest: the token is not in the stored bytes
        from stockbridge.db.models import Connection

        row = uow.session.query(Connection).filter_by(role="back_office").one()
        assert row.credentials is not None
        assert secrets["refresh_token"].encode() not in row.credentials
    assert site.grants() == [("state", True)]


def test_a_tampered_state_is_refused_and_nothing_is_saved(site: Site) -> None:
    with site.browser() as (client, _):
        back = site.consent(client)
        params = query_of(back)
        params["state"] = params["state"][:-2] + ("AA" if params["state"][-2:] != "AA" else "BB")
        answer = client.get("/oauth/qbo/callback?" + urlencode(params))
        assert answer.status_code == 400 and "unknown state" in answer.text
        missing = client.get("/oauth/qbo/callback", params={"code": params["code"]})
        assert missing.status_code == 400
    assert site.connection() is None


def test_another_browsers_state_is_refused(site: Site) -> None:
    # the same user in another session (another browser)
    with site.browser() as (mine, _), site.browser(fresh=True) as (theirs, _):
        back = site.consent(mine)
        answer = callback(theirs, back)
        assert answer.status_code == 400 and "another browser session" in answer.text
        stranger = httpx.Client(base_url=site.url)  # no session at all
        assert callback(stranger, back).status_code == 400
        # the state was not used up by the refusals: its own browser still completes it
        assert callback(mine, back).status_code == 303
    assert site.connection() is not None


def test_denied_consent_saves_nothing_and_uses_the_state_up(site: Site) -> None:
    with site.browser() as (client, _):
        back = site.consent(client, decision="cancel")
        assert query_of(back)["error"] == "access_denied" and "code" not in query_of(back)
        answer = callback(client, back)
        assert answer.status_code == 400 and "cancelled the consent" in answer.text
        again = callback(client, back)
        assert again.status_code == 400 and "already used" in again.text
    assert site.connection() is None
    assert site.grants() == [("state", True)]


def test_a_reused_state_or_code_is_refused_and_changes_nothing(site: Site) -> None:
    with site.browser() as (client, _):
        back = site.consent(client)
        assert callback(client, back).status_code == 303
        first = site.connection()
        again = callback(client, back)  # the same answer replayed
        assert again.status_code == 400 and "already used" in again.text
        # a fresh state with the old code: Intuit refuses the code (invalid_grant)
        started = client.get("/oauth/qbo/start", params={"store": "shop"})
        fresh = query_of(started.headers["location"])["state"]
        params = query_of(back) | {"state": fresh}
        reused = client.get("/oauth/qbo/callback?" + urlencode(params))
        assert reused.status_code == 502 and "invalid_grant" in reused.text
    assert site.connection() == first


def test_a_code_used_before_the_callback_saves_nothing(site: Site) -> None:
    with site.browser() as (client, _):
        back = site.consent(client)
        code = query_of(back)["code"]
        burnt = httpx.post(
            site.qbo.token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": f"{site.url}/oauth/qbo/callback",
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        assert burnt.status_code == 200
        answer = callback(client, back)
        assert answer.status_code == 502 and "invalid_grant" in answer.text
    assert site.connection() is None


def test_an_expired_state_is_refused_and_nothing_is_saved(site: Site) -> None:
    with site.browser() as (client, _):
        back = site.consent(client)
        with site.hub.uow() as uow:  # eleven minutes later
            uow.session.execute(
                update(OAuthGrant).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
            uow.commit()
        answer = callback(client, back)
        assert answer.status_code == 400 and "too long" in answer.text
    assert site.connection() is None


def test_start_needs_a_session_a_granted_store_and_the_app_keys(site: Site) -> None:
    with httpx.Client(base_url=site.url) as anonymous:
        answer = anonymous.get("/oauth/qbo/start", params={"store": "shop"})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    with site.browser() as (client, _):
        for store in ("other", "nope"):  # not granted / unknown: the same answer
            refused = client.get("/oauth/qbo/start", params={"store": store})
            assert refused.status_code == 404 and "no store named" in refused.text
        for bad in ({}, {"store": ""}, {"store": "x" * 101}):
            assert client.get("/oauth/qbo/start", params=bad).status_code == 422
        site.hub.settings.qbo_client_id = None
        unset = client.get("/oauth/qbo/start", params={"store": "shop"})
        assert unset.status_code == 503 and "STOCKBRIDGE_QBO_CLIENT_ID" in unset.text
    assert site.grants() == []


def test_disconnect_revokes_the_grant_and_forgets_it(site: Site) -> None:
    with site.browser() as (client, csrf):
        assert callback(client, site.consent(client)).status_code == 303
        held = site.connection()
        assert held is not None
        refresh = held["secrets"]["refresh_token"]
        forged = client.post("/oauth/qbo/disconnect?store=shop", data={"csrf_token": "nope"})
        assert forged.status_code == 403
        assert site.connection() == held
        answer = client.post("/oauth/qbo/disconnect?store=shop", data={"csrf_token": csrf})
        assert answer.status_code == 303 and answer.headers["location"] == "/stores/shop"
        page = client.get("/stores/shop").text
        assert "Connect to QuickBooks" in page
        twice = client.post("/oauth/qbo/disconnect?store=shop", data={"csrf_token": csrf})
        assert twice.status_code == 409
        hidden = client.post("/oauth/qbo/disconnect?store=other", data={"csrf_token": csrf})
        assert hidden.status_code == 404
        assert client.post("/oauth/qbo/disconnect", data={"csrf_token": csrf}).status_code == 422
    gone = site.connection()
    assert gone is not None and gone["secrets"] is None and gone["health"] == "disconnected"
    refused = httpx.post(  # the sandbox refuses the old refresh token now
        site.qbo.token_url,
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("params", [{"code": "x" * 513}, {"realmId": "12ab"}, {"realmId": ""}])
def test_a_malformed_answer_is_refused_with_nothing_saved(
    site: Site, params: dict[str, str]
) -> None:
    with site.browser() as (client, _):
        answer = query_of(site.consent(client)) | params
        refused = client.get("/oauth/qbo/callback?" + urlencode(answer))
        assert refused.status_code == 400
    assert site.connection() is None
