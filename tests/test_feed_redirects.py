"""A URL feed that redirects: the feed's credentials (Authorization or a custom header)
go only to the configured URL's origin; a redirect to another host gets none, an https
URL is never followed to plain http, and redirects are bounded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from stockbridge import services
from stockbridge.connectors.errors import PartnerError
from stockbridge.connectors.feed.sources import MAX_REDIRECTS, HttpSource
from stockbridge.connectors.registry import MemoryVault
from stockbridge.domain.model import RunStatus
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import SandboxStore
from tests.conftest import NO_WAIT
from tests.feed_support import (
    FeedServer,
    connect,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
    seed_web,
    sync_stock,
)

CREDENTIALS = {
    "header": ({"auth": "header", "auth_header": "X-Api-Key"}, {"header_value": "k-1"}),
    "bearer": ({"auth": "bearer"}, {"token": "t-1"}),
    "basic": ({"auth": "basic"}, {"username": "u", "password": "p"}),
}
SECRET_HEADERS = ("x-api-key", "authorization")


@dataclass
class Redirector:
    """The configured feed URL's server: answers every GET with a redirect to ``to``
    (a URL, or a path on itself), after the credential was checked; keeps each
    request's headers."""

    to: str = ""
    status: int = 302
    seen: list[dict[str, str]] = field(default_factory=list)
    server: ServerThread | None = None

    def app(self) -> Starlette:
        async def serve(request: Request) -> Response:
            self.seen.append(dict(request.headers))
            if not any(k in request.headers for k in SECRET_HEADERS):
                return Response(status_code=401)
            return RedirectResponse(self.to, status_code=self.status)

        return Starlette(routes=[Route("/{path:path}", serve)])

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


@pytest.fixture(name="redirector")
def redirector_fixture() -> Iterator[Redirector]:
    redirector = Redirector()
    with ServerThread(redirector.app()) as server:
        redirector.server = server
        yield redirector


@pytest.mark.parametrize("auth", sorted(CREDENTIALS))
def test_a_redirect_to_another_host_carries_no_credentials_and_the_feed_loads(
    tmp_path: Path,
    bc_store: SandboxStore,
    feed_server: FeedServer,
    redirector: Redirector,
    auth: str,
) -> None:
    seed_web(bc_store, {"A": 0})
    feed_server.files["stock.csv"] = b"sku,quantity\nA,6\n"  # served without credentials
    redirector.to = feed_server.url("stock.csv")
    settings, secrets = CREDENTIALS[auth]
    hub = make_hub(tmp_path)
    connect(
        hub, bc_store, source=f"{redirector.url}/export", secrets=secrets, auth_settings=settings
    )

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 6}
    assert redirector.seen and all(
        any(k in seen for k in SECRET_HEADERS) for seen in redirector.seen
    )  # the feed's own host had the credentials every time
    assert feed_server.downloads >= 1
    for seen in feed_server.seen:  # the other host never did
        assert not set(seen) & {*SECRET_HEADERS, "x-api-key"}, seen
        assert "k-1" not in seen.values() and "t-1" not in str(seen)


def test_a_redirect_on_the_same_origin_keeps_the_credential(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 0})
    feed_server.required = {"x-api-key": "k-1"}
    feed_server.files["stock.csv"] = b"sku,quantity\nA,4\n"
    feed_server.moved["old.csv"] = "/feeds/stock.csv"
    settings, secrets = CREDENTIALS["header"]
    hub = make_hub(tmp_path)
    connect(
        hub, bc_store, source=feed_server.url("old.csv"), secrets=secrets, auth_settings=settings
    )

    assert sync_stock(hub).status is RunStatus.SUCCEEDED
    assert bc_store.stock() == {"A": 4}
    assert feed_server.refused == 0 and feed_server.downloads >= 1


def test_a_redirect_loop_stops_with_a_clear_error(
    tmp_path: Path, bc_store: SandboxStore, redirector: Redirector
) -> None:
    seed_web(bc_store, {"A": 3})
    redirector.to = "/again"
    settings, secrets = CREDENTIALS["header"]
    hub = make_hub(tmp_path)
    with pytest.raises(services.ConnectFailed, match=f"more than {MAX_REDIRECTS} redirects"):
        connect(
            hub,
            bc_store,
            source=f"{redirector.url}/export",
            secrets=secrets,
            auth_settings=settings,
        )
    assert len(redirector.seen) == MAX_REDIRECTS + 1


def source_over(handler: httpx.MockTransport, url: str) -> HttpSource:
    return HttpSource(
        url=url,
        client=httpx.Client(transport=handler, follow_redirects=False),
        vault=MemoryVault({"header_value": "k-1"}),
        retry=NO_WAIT,
        auth="header",
        auth_header="X-Api-Key",
    )


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://feeds.example.com/stock.csv", "from https to plain http"),
        ("ftp://feeds.example.com/stock.csv", "redirected to a ftp URL"),
    ],
)
def test_an_https_feed_is_never_followed_to_plain_http(location: str, reason: str) -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(302, headers={"Location": location})

    source = source_over(httpx.MockTransport(answer), "https://erp.example.com/stock.csv")

    with pytest.raises(PartnerError, match=reason):
        list(source.fetch())
    assert [str(r.url) for r in requests] == ["https://erp.example.com/stock.csv"]


def test_an_https_redirect_to_another_https_host_drops_the_credential() -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "erp.example.com":
            return httpx.Response(307, headers={"Location": "https://cdn.example.net/s.csv"})
        if request.url.host == "cdn.example.net":  # and back: still no credential
            return httpx.Response(302, headers={"Location": "https://erp.example.com:443/x"})
        return httpx.Response(404)

    source = source_over(httpx.MockTransport(answer), "https://erp.example.com/stock.csv")

    with pytest.raises(PartnerError, match="more than"):
        list(source.fetch())
    assert [r.headers.get("x-api-key") for r in requests[:3]] == ["k-1", None, None]
