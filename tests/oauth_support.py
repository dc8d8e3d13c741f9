"""A hub served on loopback whose "Connect to QuickBooks" goes to the QuickBooks sandbox,
and the consent round trip over HTTP as a browser without JavaScript makes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import delete

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.db.models import Connection, OAuthGrant
from stockbridge.domain.model import InventorySource
from stockbridge.sandbox_server import ServerThread
from stockbridge.web.dashboard.guard import SESSION_COOKIE
from tests.dashboard_helpers import log_in
from tests.qbo_support import CLIENT_ID, CLIENT_SECRET, NO_WAIT, Qbo, unlimited
from tests.service_helpers import Running, start_service

PASSWORD = "correct horse battery"


def oauth_settings(home: Path, qbo: Qbo, **extra: Any) -> Settings:
    return Settings(
        home=home,
        qbo_client_id=CLIENT_ID,
        qbo_client_secret=SecretStr(CLIENT_SECRET),
        qbo_authorize_url=f"{qbo.url}/connect/oauth2",
        qbo_token_url=qbo.token_url,
        qbo_revoke_url=f"{qbo.url}/v2/oauth2/tokens/revoke",
        qbo_api_url=qbo.url,
        **extra,
    )


@dataclass
class Site:
    hub: Hub
    running: Running
    qbo: Qbo

    @property
    def url(self) -> str:
        return self.running.server.url

    session: tuple[str, str] | None = None  # (session cookie, CSRF token), reused

    @contextmanager
    def browser(self, *, fresh: bool = False) -> Iterator[tuple[httpx.Client, str]]:
        """A client logged in as ann and its CSRF token: in the module's one session
        (a password check costs a second on a busy machine), or a ``fresh`` one."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            if fresh or self.session is None:
                csrf = log_in(client, "ann", PASSWORD)
                cookie = client.cookies[SESSION_COOKIE]
                if not fresh:
                    self.session = (cookie, csrf)
            else:
                cookie, csrf = self.session
                client.cookies.set(SESSION_COOKIE, cookie)
            yield client, csrf

    def consent(self, client: httpx.Client, decision: str = "connect", store: str = "shop") -> str:
        """Start connecting, answer the sandbox's consent page; the callback URL Intuit
        would send the browser to."""
        started = client.get("/oauth/qbo/start", params={"store": store})
        assert started.status_code == 303, started.text
        return self.answer(started.headers["location"], decision)

    def answer(self, authorize_url: str, decision: str) -> str:
        page = httpx.get(authorize_url, timeout=10)
        assert page.status_code == 200 and "Connect" in page.text, page.text
        params = dict(parse_qs(urlsplit(authorize_url).query))
        form = {k: v[0] for k, v in params.items()} | {"decision": decision}
        answer = httpx.post(authorize_url.split("?")[0], data=form, timeout=10)
        assert answer.status_code == 302, answer.text
        return str(answer.headers["location"])

    def connection(self) -> dict[str, Any] | None:
        """The store's back-office connection: kind, health, settings and secrets."""
        with self.hub.uow() as uow:
            row = uow.session.query(Connection).filter_by(role="back_office").one_or_none()
            if row is None:
                return None
            secrets = self.hub.cipher.decrypt(row.credentials) if row.credentials else None
            return {
                "kind": row.kind,
                "health": row.health,
                "settings": dict(row.settings or {}),
                "secrets": secrets,
            }

    def grants(self) -> list[tuple[str, bool]]:
        """(purpose, used) of every OAuth grant row."""
        with self.hub.uow() as uow:
            rows = uow.session.query(OAuthGrant).all()
            return sorted((r.purpose, r.used_at is not None) for r in rows)


@pytest.fixture(scope="module", name="served")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One hub, service and sandbox for a test module (``site`` resets them per test)."""
    sandbox = QboSandbox()
    sandbox.limits.enabled = False
    with ServerThread(sandbox) as server, httpx.Client(base_url=server.url) as admin:
        qbo = Qbo(sandbox, server.url, admin)
        home = tmp_path_factory.mktemp("oauth") / "home"
        hub = bootstrap(oauth_settings(home, qbo), retry=NO_WAIT)
        hub.initialise()
        unlimited(hub.limiters, qbo.realm)
        services.add_store(hub, "shop", inventory_source=InventorySource.BACK_OFFICE)
        services.add_store(hub, "other", inventory_source=InventorySource.BACK_OFFICE)
        accounts.add_user(hub, "ann", PASSWORD, stores=["shop"])
        running = start_service(hub)
        yield Site(hub, running, qbo)
        running.server.stop()
        running.service.stop()
        hub.engine.dispose()


@pytest.fixture(name="site")
def fresh_site(served: Site) -> Iterator[Site]:
    """The module's site with no back office connected and no OAuth grants."""
    settings = served.hub.settings.model_copy()
    yield served
    served.hub.settings = settings
    with served.hub.uow() as uow:
        uow.session.execute(delete(Connection))
        uow.session.execute(delete(OAuthGrant))
        uow.commit()
