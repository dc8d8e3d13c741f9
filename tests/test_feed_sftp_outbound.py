"""Issue 27, row 1: SFTP feed sources and order destinations go through the hub's
outbound policy like URL feeds: resolved and judged before any packet is sent, connected
at the judged address while the host key is looked up by the host's name, and one error
for every way of not reaching an SSH server (no port scan through the error text). Also
the dashboard's "Test this source" really connects to an SFTP source."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.connectors.errors import PartnerError
from stockbridge.connectors.feed.sftp import host_key_secret, parse_sftp_url
from stockbridge.connectors.registry import MemoryVault
from stockbridge.outbound import OutboundPolicy
from stockbridge.services.errors import ConnectFailed
from tests.dashboard_helpers import log_in
from tests.feed_support import (
    SftpServer,
    make_hub,
    sftp_server_fixture,  # noqa: F401  (the sftp_server fixture)
)
from tests.service_helpers import start_service

PASSWORD = "a long passphrase"


def _connect_feed(hub: Hub, **settings: str) -> str:
    services.connect_partner(
        hub,
        "shop",
        role="back_office",
        kind="feed",
        settings={"settle_seconds": 0, **settings},
        secrets={"password": "s3cret"},
    )
    return "connected"


def test_sftp_sources_and_order_destinations_on_internal_addresses_are_never_reached(
    tmp_path: Path, sftp_server: SftpServer
) -> None:
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,1\n")
    (sftp_server.root / "orders").mkdir()
    folder = tmp_path / "drop"
    folder.mkdir()
    hub = make_hub(tmp_path, outbound_allow="")  # the default: nothing internal
    services.add_store(hub, "shop")
    port = sftp_server.port
    cases = [
        ({"source": sftp_server.url("/stock.csv")}, "127.0.0.1 is a loopback address"),
        ({"source": f"sftp://merchant@localhost:{port}/stock.csv"}, "is a loopback address"),
        (
            {"source": str(folder), "orders_to": sftp_server.url("/orders")},
            "127.0.0.1 is a loopback address",
        ),
        ({"source": "sftp://merchant@10.1.2.3/stock.csv"}, "10.1.2.3 is a private address"),
        ({"source": "sftp://merchant@169.254.169.254/x"}, "is a link-local address"),
    ]
    for settings, says in cases:
        with pytest.raises(ConnectFailed, match=re.escape(says)):
            _connect_feed(hub, **settings)
    assert sftp_server.connections == 0
    assert services.describe_store(hub, "shop").connections == ()
    # the operator allows loopback: the same feed connects
    allowed = make_hub(tmp_path / "allowed", outbound_allow="loopback")
    services.add_store(allowed, "shop")
    assert _connect_feed(allowed, source=sftp_server.url("/stock.csv")) == "connected"
    assert sftp_server.connections == 1


def _closed_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NotSsh:
    """A TCP server on loopback that is no SSH server: it answers each connection with
    ``greeting`` (an HTTP error, or nothing) and hangs up."""

    def __init__(self, greeting: bytes) -> None:
        self.greeting = greeting
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                peer, _ = self.listener.accept()
            except OSError:
                return
            with peer:
                peer.sendall(self.greeting)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def not_ssh() -> Iterator[list[NotSsh]]:
    servers = [NotSsh(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), NotSsh(b"")]
    yield servers
    for server in servers:
        server.close()


def test_no_ssh_server_closed_or_another_service_all_get_one_error(
    tmp_path: Path, not_ssh: list[NotSsh]
) -> None:
    hub = make_hub(tmp_path)  # loopback allowed: the policy lets these through
    services.add_store(hub, "shop")
    errors = []
    for port in (_closed_port(), not_ssh[0].port, not_ssh[1].port):
        with pytest.raises(ConnectFailed) as caught:
            _connect_feed(hub, source=f"sftp://merchant@127.0.0.1:{port}/stock.csv")
        errors.append(str(caught.value).replace(str(port), "PORT"))
    assert len(set(errors)) == 1, errors
    assert "no SSH session could be opened" in errors[0]


def test_the_judged_address_is_connected_and_the_host_key_is_pinned_by_name(
    sftp_server: SftpServer,
) -> None:
    """A name the system cannot resolve, answered by the policy's resolver: reaching the
    server proves the connection went to the judged address; the key is kept under the
    name. When the name later answers an internal address, nothing is sent there."""
    answers = {"sftp.example.test": ["127.0.0.1"]}
    policy = OutboundPolicy(frozenset({"loopback"}), resolver=lambda host, port: answers[host])
    port = sftp_server.port
    endpoint = replace(
        parse_sftp_url(f"sftp://merchant@sftp.example.test:{port}/"), outbound=policy
    )
    vault = MemoryVault({"password": sftp_server.password})
    note = endpoint.check(vault)
    assert f"host key of sftp.example.test:{port} trusted on first use" in note
    pinned = vault.load()
    assert pinned[host_key_secret("sftp.example.test", port)] == sftp_server.public_host_key
    assert host_key_secret("127.0.0.1", port) not in pinned

    async def look(sftp: object) -> str:
        return "reached"

    assert endpoint.run(vault, look) == "reached"  # the key found by name
    assert sftp_server.connections == 2

    strict = replace(endpoint, outbound=OutboundPolicy(resolver=lambda host, port: answers[host]))
    with pytest.raises(PartnerError, match=r"sftp.example.test \(127.0.0.1\) is a loopback"):
        strict.run(vault, look)
    # an allowed and a refused address at once: refused whole, the allowed one unused
    answers["sftp.example.test"] = ["127.0.0.1", "10.9.8.7"]
    with pytest.raises(PartnerError, match=r"\(10.9.8.7\) is a private address"):
        endpoint.run(vault, look)
    assert sftp_server.connections == 2


def test_test_this_source_reads_an_sftp_file(tmp_path: Path, sftp_server: SftpServer) -> None:
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nTEE-1,5\nTEE-2,7\n")
    hub = make_hub(tmp_path)
    accounts.add_user(hub, "op", PASSWORD, operator=True)
    services.add_store(hub, "shop")
    running = start_service(hub)
    try:
        with httpx.Client(base_url=running.server.url, timeout=60) as browser:
            csrf = log_in(browser, "op", PASSWORD)
            form = {
                "csrf_token": csrf,
                "source": sftp_server.url("/stock.csv"),
                "password": sftp_server.password,
                "location_field": "",
                "price_field": "",
                "name_field": "",
                "action": "preview",
            }
            shown = browser.post("/stores/shop/setup/feed", data=form)
            assert shown.status_code == 200, shown.text
            assert "TEE-1" in shown.text and "TEE-2" in shown.text
            assert "no host key pinned" not in shown.text
            assert sftp_server.password not in shown.text
    finally:
        running.server.stop()
        running.service.stop()
    assert services.describe_store(hub, "shop").connections == ()  # a look only
    assert sftp_server.connections == 1
