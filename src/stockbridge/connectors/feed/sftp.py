"""SFTP through asyncssh, behind a small blocking facade (connectors are synchronous).

Each call opens one SSH connection, runs one coroutine against an SFTP client and
closes it. The server's host key is pinned per host and port: ``check()`` at connect
time records the key the server shows (trust on first use) in the connection's vault
as ``sftp_host_key:<host>:<port>``, or the merchant gives it; later connections refuse
any other key. A feed read from one SFTP server and writing orders to another pins
each separately. The single ``sftp_host_key`` of earlier versions is still read, for the
endpoint it was recorded for (``legacy_host_key``: the source, or the orders
destination when the source is not SFTP), and copied to the per-host name on first use.
Secrets used: ``password`` and/or ``sftp_key`` (an OpenSSH private key, as text).

Errors: refused credentials or a changed host key -> ``PartnerAuthError``; a missing file
or folder -> ``PartnerError`` (retrying will not help); a dropped or refused connection
-> ``TransientPartnerError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import asyncssh

from stockbridge.connectors.errors import PartnerAuthError, PartnerError, TransientPartnerError
from stockbridge.connectors.registry import CredentialVault

__all__ = ["HOST_KEY", "SftpEndpoint", "host_key_secret", "parse_sftp_url"]

log = logging.getLogger("stockbridge.partner")
PARTNER = "feed"
#: The single pinned key of earlier versions; now one per host: ``host_key_secret``.
HOST_KEY = "sftp_host_key"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SftpEndpoint:
    """``sftp://user@host[:port]/path``: where a feed is read or order files written."""

    user: str
    host: str
    port: int
    path: str
    legacy_host_key: bool = field(default=False, compare=False)

    @property
    def host_key_secret(self) -> str:
        return host_key_secret(self.host, self.port)

    @property
    def label(self) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{self.path}"

    def run(self, vault: CredentialVault, work: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """Connect, run ``work`` with an SFTP client, disconnect. Blocking."""
        started = time.perf_counter()
        try:
            return asyncio.run(self._session(vault, work, pin=False))
        finally:
            log.info(
                "%s SFTP %s@%s:%s %s %.0fms",
                PARTNER,
                self.user,
                self.host,
                self.port,
                self.path,
                (time.perf_counter() - started) * 1000,
            )

    def check(self, vault: CredentialVault) -> str:
        """Connect once (recording the host key when none is pinned yet) and look at the
        path; returns what was reached."""

        async def look(sftp: asyncssh.SFTPClient) -> str:
            if not await sftp.exists(self.path):
                raise PartnerError(f"{self.path} does not exist on {self.host}", partner=PARTNER)
            return self.label

        return asyncio.run(self._session(vault, look, pin=True))

    async def _session(
        self,
        vault: CredentialVault,
        work: Callable[[asyncssh.SFTPClient], Awaitable[T]],
        *,
        pin: bool,
    ) -> T:
        secrets = vault.load()
        own = secrets.get(self.host_key_secret)
        pinned = own or (secrets.get(HOST_KEY) if self.legacy_host_key else None)
        if pinned:
            known_hosts: asyncssh.SSHKnownHosts | None = asyncssh.import_known_hosts(
                f"{self._pattern()} {pinned}\n"
            )
        elif pin:
            known_hosts = None  # trust on first use, recorded below
        else:
            raise PartnerAuthError(
                f"no host key pinned for {self.host}: connect the feed again", partner=PARTNER
            )
        keys = []
        if secrets.get("sftp_key"):
            try:
                keys.append(asyncssh.import_private_key(secrets["sftp_key"]))
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise PartnerAuthError(
                    f"the SFTP key cannot be read: {exc}", partner=PARTNER
                ) from None
        try:
            async with asyncssh.connect(
                self.host,
                self.port,
                username=self.user,
                password=secrets.get("password") or None,
                client_keys=keys,
                agent_path=None,
                known_hosts=known_hosts,
                connect_timeout=15,
                login_timeout=15,
            ) as connection:
                if not own:  # first use, or the earlier single key just verified
                    key = connection.get_server_host_key()
                    if key is not None:
                        with vault.update() as stored:
                            stored[self.host_key_secret] = key.export_public_key().decode().strip()
                async with connection.start_sftp_client() as sftp:
                    return await work(sftp)
        except asyncssh.PermissionDenied as exc:
            raise PartnerAuthError(
                f"{self.label}: credentials refused ({exc.reason})", partner=PARTNER
            ) from exc
        except asyncssh.HostKeyNotVerifiable as exc:
            raise PartnerAuthError(
                f"{self.label}: the server's host key is not the one pinned ({exc.reason})",
                partner=PARTNER,
            ) from exc
        except asyncssh.SFTPNoSuchFile as exc:
            raise PartnerError(
                f"{self.label}: no such file ({exc.reason})", partner=PARTNER
            ) from exc
        except asyncssh.SFTPPermissionDenied as exc:
            raise PartnerError(
                f"{self.label}: permission denied ({exc.reason})", partner=PARTNER
            ) from exc
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            raise TransientPartnerError(
                f"{self.label}: {type(exc).__name__}: {exc}", partner=PARTNER
            ) from exc

    def _pattern(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def host_key_secret(host: str, port: int) -> str:
    """The vault name of the host key pinned for ``host:port``."""
    return f"{HOST_KEY}:{host.lower()}:{port}"


def parse_sftp_url(url: str) -> SftpEndpoint:
    """``sftp://user@host[:port]/path`` -> endpoint; ValueError naming what is missing."""
    parts = urlsplit(url)
    if parts.scheme != "sftp":
        raise ValueError(f"not an sftp:// URL: {url!r}")
    if not parts.hostname:
        raise ValueError("the sftp:// URL has no host")
    if not parts.username:
        raise ValueError("the sftp:// URL needs a user: sftp://user@host/path")
    if parts.password:
        raise ValueError("put the SFTP password in --password, not in the URL")
    try:
        port = parts.port or 22
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    path = unquote(parts.path) or "/"
    return SftpEndpoint(unquote(parts.username), parts.hostname, port, path)
