"""The outbound-request policy: the hub calls a URL a user chose (an alert webhook, a
URL feed and its redirects) only at addresses the operator allows, judged where the
connection is made — after resolving, on every redirect, and for the very address
connected to (no second DNS lookup for a rebinding name to exploit)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from stockbridge import services
from stockbridge.alerts import Alert, AlertSettings, IncidentKind, NotifyFailed, WebhookNotifier
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.domain.model import RunStatus
from stockbridge.outbound import OutboundPolicy, OutboundRefused, guarded_transport
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import SandboxStore
from tests.feed_support import (
    FeedServer,
    connect,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
    seed_web,
    sync_stock,
)

STRICT = OutboundPolicy()


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("::ffff:169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),  # shared address space (carrier NAT)
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_each_address_is_judged_by_its_rule(address: str, rule: str | None) -> None:
    assert STRICT.refusal(address) == rule


def test_the_operator_allows_rules_and_networks_per_hub() -> None:
    loopback = OutboundPolicy.parse("loopback")
    assert loopback.refusal("127.0.0.1") is None
    assert loopback.refusal("::1") is None and loopback.refusal("::ffff:127.0.0.1") is None
    assert loopback.refusal("10.0.0.1") == "private"
    assert loopback.refusal("169.254.169.254") == "link-local"
    office = OutboundPolicy.parse(" 10.20.0.0/16 , fd00:1::/64")
    assert office.refusal("10.20.3.4") is None and office.refusal("fd00:1::5") is None
    assert office.refusal("10.21.0.1") == "private" and office.refusal("127.0.0.1") == "loopback"
    with pytest.raises(ValueError, match="'intranet' is neither a network"):
        OutboundPolicy.parse("loopback,intranet")
    with pytest.raises(ValidationError, match="STOCKBRIDGE_OUTBOUND_ALLOW"):
        Settings(outbound_allow="everything")
    assert Settings().outbound == STRICT  # nothing allowed unless the operator says so


# real connections ----------------------------------------------------------------


@dataclass
class Listener:
    """An HTTP server counting every request it gets (an internal service)."""

    hits: list[str] = field(default_factory=list)
    server: ServerThread | None = None

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.hits.append(f"{request.method} {request.url.path} host={request.headers['host']}")
            return Response("sku,quantity\nSECRET,1\n", media_type="text/csv")

        return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    with ServerThread(found.app()) as server:
        found.server = server
        yield found


@pytest.fixture
def listener6() -> Iterator[Listener]:
    """The same on the IPv6 loopback address [::1]."""
    found = Listener()
    with ServerThread(found.app(), host="::1") as server:
        found.server = server
        yield found


ALERT = Alert(1, "shop", IncidentKind.STALE, "subject", "detail", datetime(2026, 1, 1, tzinfo=UTC))


def post_alert(policy: OutboundPolicy, url: str) -> None:
    with httpx.Client(transport=guarded_transport(policy)) as client:
        WebhookNotifier(client, timeout=5).send(ALERT, AlertSettings(webhook_url=url))


@pytest.mark.parametrize(
    ("where", "rule"),
    [
        ("http://127.0.0.1:{port}/admin/tokens/revoke", "loopback"),
        ("http://localhost:{port}/admin", "loopback"),  # a name that resolves inside
        ("http://[::ffff:127.0.0.1]:{port}/admin", "loopback"),
    ],
)
def test_an_alert_webhook_on_loopback_is_refused_and_never_reached(
    listener: Listener, where: str, rule: str
) -> None:
    url = where.format(port=listener.port)
    with pytest.raises(NotifyFailed, match=f"refused: .* is a {rule} address"):
        post_alert(STRICT, url)
    assert listener.hits == []
    post_alert(OutboundPolicy.parse("loopback"), url)  # the operator allowed it: delivered
    assert len(listener.hits) == 1


def test_an_alert_webhook_on_ipv6_loopback_is_refused(listener6: Listener) -> None:
    url = f"http://[::1]:{listener6.port}/hook"
    with pytest.raises(NotifyFailed, match=r"\[?::1\]? is a loopback address"):
        post_alert(STRICT, url)
    assert listener6.hits == []
    post_alert(OutboundPolicy.parse("::1/128"), url)
    assert len(listener6.hits) == 1


def test_the_metadata_service_is_refused_before_any_connection() -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return {"metadata.test": ["169.254.169.254"]}.get(host, [host])

    policy = OutboundPolicy(resolver=resolver)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://metadata.test/latest"):
        with pytest.raises(NotifyFailed, match="is a link-local address"):
            post_alert(policy, url)
    assert asked == ["169.254.169.254", "metadata.test"]


def test_a_rebinding_name_is_judged_at_connect_and_the_checked_address_is_used(
    listener: Listener,
) -> None:
    """The form's check sees a public address; the delivery resolves again, sees
    loopback, and refuses. A name the policy allows is connected to at the address that
    was judged (the system resolver does not know the name), with the Host header kept."""
    answers = {"hook.test": [["93.184.216.34"], ["127.0.0.1"]]}
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]

    policy = OutboundPolicy(resolver=rebinding)
    url = f"http://hook.test:{listener.port}/hook"
    policy.check_url(url)  # as the settings form saw it: public
    with pytest.raises(NotifyFailed, match=r"hook.test \(127.0.0.1\) is a loopback address"):
        post_alert(policy, url)
    assert listener.hits == []

    pinned = OutboundPolicy(
        allowed_networks=OutboundPolicy.parse("127.0.0.1/32").allowed_networks,
        resolver=lambda host, port: ["127.0.0.1"] if host == "internal.test" else [],
    )
    post_alert(pinned, f"http://internal.test:{listener.port}/hook")
    assert listener.hits == [f"POST /hook host=internal.test:{listener.port}"]


def test_the_settings_form_refuses_an_internal_alert_url_naming_the_rule(tmp_path: Path) -> None:
    hub = bootstrap(Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path}/h.db"))
    hub.initialise()
    services.add_store(hub, "shop")
    for url, rule in [
        ("http://127.0.0.1:8000/admin", "loopback"),
        ("http://[::1]/x", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("https://localhost/hook", "loopback"),
        ("http://10.0.0.7/hook", "private"),
    ]:
        with pytest.raises(services.InvalidSetting, match=f"is a {rule} address"):
            services.update_store(hub, "shop", alert_webhook_url=url)
    assert services.describe_store(hub, "shop").alert_webhook is None
    hub.engine.dispose()


# URL feeds -----------------------------------------------------------------------


@dataclass
class Redirector:
    to: str = ""
    seen: int = 0

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.seen += 1
            return RedirectResponse(self.to, status_code=302)

        return Starlette(routes=[Route("/{path:path}", answer)])


def test_a_feed_redirect_to_an_internal_address_is_refused(
    tmp_path: Path, bc_store: SandboxStore, listener6: Listener
) -> None:
    """The feed's own server (127.0.0.1, which this hub allows) redirects to [::1], a
    loopback address it does not allow: the pull fails naming the rule, and the internal
    service never sees a request (its 'header row' cannot leak into run errors)."""
    seed_web(bc_store, {"A": 3})
    redirector = Redirector(to=f"http://[::1]:{listener6.port}/internal")
    with ServerThread(redirector.app()) as server:
        hub = make_hub(tmp_path, outbound_allow="127.0.0.1/32")
        with pytest.raises(services.ConnectFailed, match=r"refused: .*::1.* loopback address"):
            connect(hub, bc_store, source=f"{server.url}/stock.csv")
        assert redirector.seen == 1 and listener6.hits == []


def test_a_feed_redirect_to_the_metadata_service_fails_the_pull_without_retries(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 3})
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\n"
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=feed_server.url("stock.csv"))
    feed_server.files.pop("stock.csv")
    feed_server.moved["stock.csv"] = "http://169.254.169.254/latest/meta-data/"
    requests = feed_server.requests

    report = sync_stock(hub)

    assert report.status is RunStatus.FAILED
    assert "refused: 169.254.169.254 is a link-local address" in str(report.steps), report
    assert feed_server.requests == requests + 1  # refused once, not retried
    assert bc_store.stock() == {"A": 3}  # nothing applied


def test_a_feed_on_loopback_needs_the_operator_to_allow_it(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\n"
    hub = make_hub(tmp_path, outbound_allow="")
    with pytest.raises(services.ConnectFailed, match=r"127\.0\.0\.1 is a loopback address"):
        services.connect_partner(
            hub,
            services.add_store(hub, "shop").name,
            role="back_office",
            kind="feed",
            settings={"source": feed_server.url("stock.csv")},
            secrets={},
        )
    assert feed_server.requests == 0


@pytest.mark.parametrize("order", ["allowed first", "refused first"])
def test_a_name_answering_an_allowed_and_a_refused_address_is_refused_whole(
    listener: Listener, order: str
) -> None:
    """Every address a name resolves to is judged: one refused address refuses the name,
    even when another (here the listener, allowed by the operator) would be allowed."""
    answer = ["127.0.0.1", "10.0.0.7"]
    if order == "refused first":
        answer.reverse()
    policy = OutboundPolicy(
        allowed_networks=OutboundPolicy.parse("127.0.0.1/32").allowed_networks,
        resolver=lambda host, port: answer if host == "mixed.test" else [],
    )
    url = f"http://mixed.test:{listener.port}/hook"
    with pytest.raises(NotifyFailed, match=r"mixed.test \(10.0.0.7\) is a private address"):
        post_alert(policy, url)
    with pytest.raises(OutboundRefused, match="is a private address"):
        policy.check_url(url)
    assert listener.hits == []
