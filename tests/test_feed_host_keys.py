"""SFTP host keys are pinned per server: a feed read from one SFTP server with its
orders written to another connects to both, each checked against its own key; the
single key of earlier versions still works for the server it was recorded for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.cli import build_app
from stockbridge.connectors.feed.sftp import HOST_KEY, host_key_secret
from stockbridge.connectors.feed.ssh_lib import asyncssh
from stockbridge.domain.model import SYNC_ALL, RunStatus
from tests.bc_helpers import SandboxStore
from tests.feed_support import (
    STOCK_STEPS,
    SftpServer,
    back_office_qty,
    connect,
    make_hub,
    seed_web,
    sftp_server_fixture,  # noqa: F401  (the sftp_server fixture)
)


@pytest.fixture(name="pos_server")
def pos_server_fixture(tmp_path: Path) -> Iterator[SftpServer]:
    """A second SFTP server (the POS's, where order files go), with its own host key."""
    root = tmp_path / "pos-root"
    (root / "orders").mkdir(parents=True)
    server = SftpServer(root).start()
    yield server
    server.stop()


def vault(hub: Hub) -> dict[str, str]:
    with hub.uow() as uow:
        row = uow.stores.connection(services.resolve_store(hub, "shop"), "back_office")
        assert row is not None and row.credentials is not None
        return hub.cipher.decrypt(row.credentials)


def set_vault(hub: Hub, secrets: dict[str, str]) -> None:
    with hub.uow() as uow:
        row = uow.stores.connection(services.resolve_store(hub, "shop"), "back_office")
        assert row is not None
        row.credentials = hub.cipher.encrypt(secrets)
        uow.commit()


def order_files(server: SftpServer) -> list[str]:
    return sorted(p.name for p in (server.root / "orders").iterdir() if p.suffix == ".json")


def test_source_and_orders_on_two_sftp_servers_each_pinned(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer, pos_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 0})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,9\n")
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/stock.csv"),
        orders_to=pos_server.url("/orders"),
        secrets={"password": sftp_server.password},
    )
    secrets = vault(hub)
    assert secrets[host_key_secret("127.0.0.1", sftp_server.port)] == sftp_server.public_host_key
    assert secrets[host_key_secret("127.0.0.1", pos_server.port)] == pos_server.public_host_key
    assert HOST_KEY not in secrets
    order = bc_store.order([("A", 1)])

    report = services.sync(hub, "shop", SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, (report.error, report.errors)
    assert bc_store.stock() == {"A": 9 - 1}
    assert order_files(pos_server) == [f"order-{order['id']}.json"]
    assert pos_server.renames == 1

    # An impostor in the POS server's place is refused; the source is still read.
    pos_key = host_key_secret("127.0.0.1", pos_server.port)
    set_vault(hub, {**vault(hub), pos_key: sftp_server.public_host_key})
    bc_store.order([("A", 1)])

    refused = services.sync(hub, "shop", SYNC_ALL)

    assert refused.status is not RunStatus.SUCCEEDED
    assert "host key" in str(refused.errors) + str(refused.error)
    assert pos_server.renames == 1


def test_the_single_host_key_of_earlier_versions_still_pins_the_source(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 0})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,4\n")
    (sftp_server.root / "orders").mkdir()
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/stock.csv"),
        orders_to=sftp_server.url("/orders"),
        secrets={"password": sftp_server.password},
    )
    own = host_key_secret("127.0.0.1", sftp_server.port)
    earlier = {k: v for k, v in vault(hub).items() if k != own}
    set_vault(hub, {**earlier, HOST_KEY: sftp_server.public_host_key})
    bc_store.order([("A", 1)])

    report = services.sync(hub, "shop", SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, (report.error, report.errors)
    assert bc_store.stock() == {"A": 3} and sftp_server.renames == 1
    assert vault(hub)[own] == sftp_server.public_host_key  # copied to the per-host name

    # The earlier key is not trusted blindly: a wrong one is refused.
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    set_vault(hub, {**earlier, HOST_KEY: impostor.strip()})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,5\n")
    again = services.sync(hub, "shop", SYNC_ALL)
    assert again.status is not RunStatus.SUCCEEDED
    assert bc_store.stock() == {"A": 3}


def test_the_cli_host_key_pins_the_source_server_and_bad_uses_are_refused(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer, pos_server: SftpServer
) -> None:
    hub = make_hub(tmp_path)
    app = build_app(lambda: hub)
    assert CliRunner().invoke(app, ["store", "add", "shop"]).exit_code == 0
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,4\n")
    base = ["connect", "feed", "--store", "shop", "--password", sftp_server.password]

    folder = CliRunner().invoke(
        app, [*base, "--source", str(tmp_path), "--sftp-host-key", "ssh-ed25519 AAAA"]
    )
    assert folder.exit_code == 2 and "sftp://" in folder.output

    result = CliRunner().invoke(
        app,
        [
            *base,
            "--source",
            sftp_server.url("/stock.csv"),
            "--orders-to",
            pos_server.url("/orders"),
            "--sftp-host-key",
            sftp_server.public_host_key,
        ],
    )

    assert result.exit_code == 0, result.output
    secrets = vault(hub)
    assert secrets[host_key_secret("127.0.0.1", sftp_server.port)] == sftp_server.public_host_key
    assert secrets[host_key_secret("127.0.0.1", pos_server.port)] == pos_server.public_host_key


# trust on first use, kept across reconnects, a change confirmed by the operator ----------


def connect_args(server: SftpServer, *extra: str) -> list[str]:
    return [
        "connect",
        "feed",
        "--store",
        "shop",
        "--source",
        server.url("/stock.csv"),
        "--password",
        server.password,
        *extra,
    ]


def test_the_first_key_is_shown_and_kept_across_reconnects_and_a_change_needs_confirming(
    tmp_path: Path, sftp_server: SftpServer
) -> None:
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,4\n")
    hub = make_hub(tmp_path)
    app = build_app(lambda: hub)
    assert CliRunner().invoke(app, ["store", "add", "shop"]).exit_code == 0
    pinned = host_key_secret("127.0.0.1", sftp_server.port)
    first_key = sftp_server.public_host_key

    first = CliRunner().invoke(app, connect_args(sftp_server))

    assert first.exit_code == 0, first.output
    assert sftp_server.fingerprint in first.output and "first" in first.output
    assert vault(hub)[pinned] == first_key

    again = CliRunner().invoke(app, connect_args(sftp_server))  # e.g. a new password

    assert again.exit_code == 0, again.output
    assert sftp_server.fingerprint not in again.output  # nothing new to trust
    assert vault(hub)[pinned] == first_key

    # The server's key changes. Neither a reconnect nor a run trusts the new one.
    old_fingerprint = sftp_server.fingerprint
    sftp_server.change_host_key()
    logins = sftp_server.logins

    refused = CliRunner().invoke(app, connect_args(sftp_server))

    assert refused.exit_code == 1
    assert old_fingerprint in refused.output and sftp_server.fingerprint in refused.output
    assert f"--trust-host-key {sftp_server.fingerprint}" in refused.output
    assert vault(hub)[pinned] == first_key
    run = services.sync(hub, "shop", STOCK_STEPS[:1])
    assert run.status is not RunStatus.SUCCEEDED
    assert sftp_server.fingerprint in str(run.errors) + str(run.error)
    assert sftp_server.logins == logins  # the password never went to the changed server

    wrong = CliRunner().invoke(app, connect_args(sftp_server, "--trust-host-key", old_fingerprint))
    assert wrong.exit_code == 1 and vault(hub)[pinned] == first_key

    confirmed = CliRunner().invoke(
        app, connect_args(sftp_server, "--trust-host-key", sftp_server.fingerprint)
    )

    assert confirmed.exit_code == 0, confirmed.output
    assert sftp_server.fingerprint in confirmed.output and "changed" in confirmed.output
    assert vault(hub)[pinned] == sftp_server.public_host_key
    assert not any(k.startswith("sftp_trust") for k in vault(hub))  # used once, not kept
    assert services.sync(hub, "shop", STOCK_STEPS[:1]).status is RunStatus.SUCCEEDED
    assert back_office_qty(hub, services.resolve_store(hub, "shop")) == {"A": 4}


def test_a_fingerprint_given_at_the_first_connection_is_the_only_key_trusted(
    tmp_path: Path, sftp_server: SftpServer
) -> None:
    """The operator read the fingerprint off the server beforehand: no blind first use."""
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,4\n")
    hub = make_hub(tmp_path)
    app = build_app(lambda: hub)
    assert CliRunner().invoke(app, ["store", "add", "shop"]).exit_code == 0
    impostor = asyncssh.generate_private_key("ssh-ed25519").get_fingerprint("sha256")

    refused = CliRunner().invoke(app, connect_args(sftp_server, "--trust-host-key", impostor))

    assert refused.exit_code == 1 and sftp_server.fingerprint in refused.output
    assert sftp_server.logins == 0

    trusted = CliRunner().invoke(
        app, connect_args(sftp_server, "--trust-host-key", sftp_server.fingerprint)
    )

    assert trusted.exit_code == 0, trusted.output
    assert vault(hub)[host_key_secret("127.0.0.1", sftp_server.port)] == (
        sftp_server.public_host_key
    )


def test_a_malformed_fingerprint_is_refused_before_connecting(
    tmp_path: Path, sftp_server: SftpServer
) -> None:
    hub = make_hub(tmp_path)
    app = build_app(lambda: hub)
    assert CliRunner().invoke(app, ["store", "add", "shop"]).exit_code == 0

    result = CliRunner().invoke(app, connect_args(sftp_server, "--trust-host-key", "abc"))

    assert result.exit_code == 2 and "SHA256:" in result.output
    assert sftp_server.logins == 0
