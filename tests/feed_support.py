"""Helpers for feed tests: an HTTP feed server (ETag, auth, request counts), an SFTP
server on loopback (asyncssh, generated keys), and a hub whose store is connected to the
BigCommerce sandbox and a feed through the same use cases a merchant's commands run."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.feed.ssh_lib import asyncssh
from stockbridge.domain.model import InventorySource, RunStatus, Step
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import SandboxStore
from tests.conftest import NO_WAIT
from tests.template_db import sqlite_copy

STOCK_STEPS = (Step.INVENTORY_IN, Step.INVENTORY_OUT)


@dataclass
class FeedServer:
    """Serves ``files`` (path -> bytes) with an ETag (or, with ``etags`` off, only a
    Last-Modified date); counts requests and full bodies and keeps each request's headers
    (``seen``). ``required`` headers must be sent exactly (auth), else 401. ``moved``
    (name -> location) answers 301 for a name, after the auth check."""

    files: dict[str, bytes] = field(default_factory=dict)
    bearer: str | None = None
    required: dict[str, str] = field(default_factory=dict)
    etags: bool = True
    modified: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    downloads: int = 0
    not_modified: int = 0
    refused: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)
    server: ServerThread | None = None

    def app(self) -> Starlette:
        async def serve(request: Request) -> Response:
            self.requests += 1
            self.seen.append(dict(request.headers))
            required = dict(self.required)
            if self.bearer is not None:
                required["authorization"] = f"Bearer {self.bearer}"
            if any(request.headers.get(k) != v for k, v in required.items()):
                self.refused += 1
                return Response(status_code=401)
            name = request.path_params["name"]
            if name in self.moved:
                return Response(status_code=301, headers={"Location": self.moved[name]})
            body = self.files.get(name)
            if body is None:
                return Response(status_code=404)
            if self.etags:
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                headers = {"ETag": etag}
                unchanged = request.headers.get("if-none-match") == etag
            else:
                headers = {"Last-Modified": self.modified[name]}
                unchanged = request.headers.get("if-modified-since") == self.modified[name]
            if unchanged:
                self.not_modified += 1
                return Response(status_code=304, headers=headers)
            self.downloads += 1
            return Response(body, headers={**headers, "Content-Type": "text/csv"})

        return Starlette(routes=[Route("/feeds/{name}", serve)])

    def url(self, name: str) -> str:
        assert self.server is not None
        return f"{self.server.url}/feeds/{name}"


@pytest.fixture(name="feed_server")
def feed_server_fixture() -> Iterator[FeedServer]:
    feed = FeedServer()
    with ServerThread(feed.app()) as server:
        feed.server = server
        yield feed


class SftpServer:
    """An SFTP server on 127.0.0.1 (asyncssh) serving ``root``; one user, by password or
    by key. Runs its event loop in a background thread. ``renames`` counts renames to a
    visible name (a file published; not a hidden temp or ledger entry)."""

    def __init__(self, root: Path, *, user: str = "merchant", password: str = "s3cret") -> None:
        self.root = root
        self.user = user
        self.password = password
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.port = 0
        self.logins = 0
        self.connections = 0  # TCP connections that reached the SSH server
        self.renames = 0
        #: Appended to a file right after the server answered a ``stat`` of it: a file
        #: that grows between the size check and the download.
        self.grow_after_stat = b""
        self._kill_armed = False
        self._kill_at = "file"
        self._kill_pid: int | None = None
        self._kill_known = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncssh.SSHAcceptor | None = None

    def start(self) -> SftpServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _listen(self) -> asyncssh.SSHAcceptor:
        server = self

        class Auth(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                server.connections += 1

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                ok = username == server.user and password == server.password
                server.logins += ok
                return ok

        class Files(asyncssh.SFTPServer):
            def stat(self, path: bytes) -> Any:
                attrs = super().stat(path)
                if server.grow_after_stat and os.path.isfile(self.map_path(path)):
                    with open(self.map_path(path), "ab") as grown:
                        grown.write(server.grow_after_stat)
                return attrs

            def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
                os.replace(self.map_path(oldpath).decode(), self.map_path(newpath).decode())
                visible = not any(part.startswith(b".") for part in newpath.split(b"/"))
                server.renames += visible
                if server._kill_armed and visible == (server._kill_at == "file"):
                    server._kill_armed = False
                    assert server._kill_known.wait(30) and server._kill_pid is not None
                    os.kill(server._kill_pid, signal.SIGKILL)

        authorized = asyncssh.import_authorized_keys(self.client_key.export_public_key().decode())
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=Auth,
            server_host_keys=[self.host_key],
            authorized_client_keys=authorized,
            sftp_factory=lambda chan: Files(chan, chroot=str(self.root).encode()),
            allow_scp=False,
        )

    def arm_kill(self, at: str = "file") -> Callable[[int], None]:
        """Kill -9 a process right after the next rename (the hub, between writing an order
        file and recording it), before the client hears the rename succeeded: the rename
        of a file to its final name (``at`` = "file") or one into a hidden place (the
        hub's ledger marker, "marker"). Returns the function that names the process (the
        rename waits until it is named)."""
        self._kill_armed = True
        self._kill_at = at

        def target(pid: int) -> None:
            self._kill_pid = pid
            self._kill_known.set()

        return target

    def url(self, path: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{path}"

    def change_host_key(self) -> None:
        """The server shows a new host key from its next connection on (reinstalled, or
        an impostor in its place: the hub cannot tell)."""
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        assert self._server is not None
        acceptor = self._server

        def update() -> None:
            acceptor.update(server_host_keys=[self.host_key])

        asyncio.run_coroutine_threadsafe(asyncio.to_thread(update), self._loop).result(10)

    @property
    def fingerprint(self) -> str:
        """The host key's SHA256 fingerprint, as OpenSSH shows it."""
        return str(self.host_key.get_fingerprint("sha256"))

    @property
    def public_host_key(self) -> str:
        return str(self.host_key.export_public_key().decode().strip())

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(name="sftp_server")
def sftp_server_fixture(tmp_path: Path) -> Iterator[SftpServer]:
    root = tmp_path / "sftp-root"
    root.mkdir()
    server = SftpServer(root).start()
    yield server
    server.stop()


def make_hub(
    tmp_path: Path, database_url: str | None = None, *, outbound_allow: str = "loopback"
) -> Hub:
    """A hub on SQLite (or ``database_url``); its feeds may call loopback (the test
    servers) unless ``outbound_allow`` says otherwise."""
    hub = bootstrap(
        Settings(
            home=tmp_path / "home",
            database_url=database_url or sqlite_copy(tmp_path / "hub.db"),
            lease_seconds=30,
            outbound_allow=outbound_allow,
        ),
        retry=NO_WAIT,
    )
    hub.initialise()
    return hub


def seed_web(bc: SandboxStore, skus: dict[str, int]) -> None:
    bc.seed(
        [
            {"name": sku, "sku": sku, "tracking": "product", "inventory_level": qty}
            for sku, qty in skus.items()
        ]
    )


def connect(
    hub: Hub,
    bc: SandboxStore,
    *,
    mode: InventorySource = InventorySource.BACK_OFFICE,
    secrets: dict[str, str] | None = None,
    auth_settings: Mapping[str, str] | None = None,
    **feed: Any,
) -> int:
    """Store "shop": BigCommerce sandbox as its web store, the feed as its back office.
    ``auth_settings``: the feed's authentication settings (e.g. ``{"auth": "basic"}``),
    merged into its other settings ``feed``."""
    services.add_store(hub, "shop", inventory_source=mode)
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc.hash, "api_url": bc.server.url},
        secrets={"access_token": bc.token},
    )
    services.connect_partner(
        hub,
        "shop",
        role="back_office",
        kind="feed",
        settings={"settle_seconds": 0, **feed, **(auth_settings or {})},
        secrets=secrets or {},
    )
    return services.resolve_store(hub, "shop")


def sync_stock(hub: Hub) -> services.RunReport:
    return services.sync(hub, "shop", STOCK_STEPS)


def back_office_qty(hub: Hub, store_id: int) -> dict[str, int | None]:
    with hub.uow() as uow:
        return {row[0]: row[2] for row in uow.catalog.iter_back_office_state(store_id)}


def succeeded(report: services.RunReport) -> bool:
    return report.status is RunStatus.SUCCEEDED
