"""SFTP through asyncssh, behind a small blocking facade (connectors are synchronous).

Each call opens one SSH connection, runs one coroutine against an SFTP client and
closes it. The server's host key is pinned per host and port, in the connection's vault
as ``sftp_host_key:<host>:<port>``:

- ``check()`` (when the feed is connected) with no key pinned trusts the key the server
  shows (trust on first use) and says so with its fingerprint (SHA256, as OpenSSH shows
  it); the merchant may instead give the key, or its fingerprint, beforehand.
- The pinned key is kept when the feed is connected again (``services.connect_partner``
  keeps ``sftp_host_key*`` secrets), and every later connection refuses any other key,
  naming both fingerprints, until the operator confirms the new one: the fingerprints
  listed in ``sftp_trust_host_key:<host>:<port>`` (``--trust-host-key``) are accepted by
  ``check()`` only, once; the key is then pinned and the confirmation dropped.

A feed read from one SFTP server and writing orders to another pins each separately. The
single ``sftp_host_key`` of earlier versions is still read, for the endpoint it was
recorded for (``legacy_host_key``: the source, or the orders destination when the source
is not SFTP), and copied to the per-host name on first use. Secrets used: ``password``
and/or ``sftp_key`` (an OpenSSH private key, as text).

Where it connects: the host is resolved and judged by the hub's outbound policy
(``outbound.OutboundPolicy``, as for URL feeds): a loopback, private, link-local ...
address is refused unless the operator allows it, before any packet is sent, and the
connection goes to the judged address itself (no second lookup), while the host key is
still looked up and pinned by the host's name (asyncssh's ``host_key_alias``).

Errors: refused credentials or a changed host key -> ``PartnerAuthError``; a missing file
or folder, or an address the policy refuses -> ``PartnerError`` (retrying will not help);
no SSH session at an allowed address -> ``TransientPartnerError`` with one message for
every cause (refused, reset, timed out, not an SSH server, a name that does not resolve),
so the answer does not tell open, closed and filtered ports apart.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import httpcore

from stockbridge.connectors.errors import PartnerAuthError, PartnerError, TransientPartnerError
from stockbridge.connectors.feed.ssh_lib import asyncssh
from stockbridge.connectors.registry import CredentialVault
from stockbridge.outbound import OutboundPolicy, OutboundRefused

__all__ = [
    "HOST_KEY",
    "TRUST_HOST_KEY",
    "SftpEndpoint",
    "fingerprint",
    "host_key_secret",
    "is_fingerprint",
    "parse_sftp_url",
    "trust_secret",
]

log = logging.getLogger("stockbridge.partner")
PARTNER = "feed"
#: The single pinned key of earlier versions; now one per host: ``host_key_secret``.
HOST_KEY = "sftp_host_key"
#: Fingerprints the operator confirmed for one host, used by the next ``check()`` only.
TRUST_HOST_KEY = "sftp_trust_host_key"
T = TypeVar("T")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def fingerprint(public_key: str | asyncssh.SSHKey) -> str:
    """``SHA256:<base64>``, as ``ssh-keygen -l`` shows a key."""
    key = asyncssh.import_public_key(public_key) if isinstance(public_key, str) else public_key
    return str(key.get_fingerprint("sha256"))


def is_fingerprint(value: str) -> bool:
    return _FINGERPRINT.fullmatch(value) is not None


class _HostKeyCheck:
    """Decides on a host key that is not the pinned one (asyncssh asks only then): one
    the operator confirmed, or any on first use; remembers the key it was shown."""

    def __init__(self, confirmed: frozenset[str], first_use: bool) -> None:
        self.confirmed = confirmed
        self.first_use = first_use
        self.shown: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.shown = key
        return self.first_use or fingerprint(key) in self.confirmed

    def client(self) -> asyncssh.SSHClient:
        """The asyncssh client object that asks this check (asyncssh is loaded here, on
        connecting, not when this module is imported)."""
        check = self

        class Client(asyncssh.SSHClient):
            def validate_host_public_key(
                self, host: str, addr: str, port: int, key: asyncssh.SSHKey
            ) -> bool:
                return check.validate_host_public_key(host, addr, port, key)

        return Client()


def _no_known_hosts(
    _host: str, _addr: str, _port: int | None
) -> tuple[list[str], list[str], list[str]]:
    """No key trusted up front (and never ``~/.ssh/known_hosts``): ``_HostKeyCheck``
    decides."""
    return [], [], []


@dataclass(frozen=True, slots=True)
class SftpEndpoint:
    """``sftp://user@host[:port]/path``: where a feed is read or order files written."""

    user: str
    host: str
    port: int
    path: str
    legacy_host_key: bool = field(default=False, compare=False)
    #: The hub's outbound policy: which addresses may be connected to (strict unless
    #: the operator allows more).
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy, compare=False)
    #: "Test this source": trust the key shown when none is pinned (the vault is a
    #: throwaway one; nothing is pinned for the connection).
    trust_first_use: bool = field(default=False, compare=False)

    @property
    def host_key_secret(self) -> str:
        return host_key_secret(self.host, self.port)

    @property
    def trust_secret(self) -> str:
        return trust_secret(self.host, self.port)

    @property
    def label(self) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{self.path}"

    def run(self, vault: CredentialVault, work: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """Connect, run ``work`` with an SFTP client, disconnect. Blocking."""
        started = time.perf_counter()
        try:
            return asyncio.run(self._session(vault, work, pin=False))[0]
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
        """Connect once and look at the path; returns what was reached, with the host
        key's fingerprint when it was trusted just now (first use, or a confirmed
        change). The operator's confirmation is used up either way."""

        async def look(sftp: asyncssh.SFTPClient) -> str:
            if not await sftp.exists(self.path):
                raise PartnerError(f"{self.path} does not exist on {self.host}", partner=PARTNER)
            return self.label

        try:
            reached, trusted = asyncio.run(self._session(vault, look, pin=True))
        finally:
            if self.trust_secret in vault.load():
                with vault.update() as secrets:
                    secrets.pop(self.trust_secret, None)
        return f"{reached} ({trusted})" if trusted else reached

    async def _session(
        self,
        vault: CredentialVault,
        work: Callable[[asyncssh.SFTPClient], Awaitable[T]],
        *,
        pin: bool,
    ) -> tuple[T, str | None]:
        """Run ``work``; also what was trusted now (None when the pinned key was shown).
        ``pin``: the feed is being connected (first use and confirmations count)."""
        secrets = vault.load()
        own = secrets.get(self.host_key_secret)
        pinned = own or (secrets.get(HOST_KEY) if self.legacy_host_key else None)
        confirmed = frozenset(secrets.get(self.trust_secret, "").split()) if pin else frozenset()
        first_use = pin or self.trust_first_use
        if not pinned and not first_use:
            raise PartnerAuthError(
                f"no host key pinned for {self.host}: connect the feed again", partner=PARTNER
            )
        check = _HostKeyCheck(confirmed, first_use=first_use and not pinned and not confirmed)
        known_hosts: object = (
            asyncssh.import_known_hosts(f"{self._pattern()} {pinned}\n")
            if pinned
            else _no_known_hosts
        )
        keys = []
        if secrets.get("sftp_key"):
            try:
                keys.append(asyncssh.import_private_key(secrets["sftp_key"]))
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise PartnerAuthError(
                    f"the SFTP key cannot be read: {exc}", partner=PARTNER
                ) from None
        options = {
            "username": self.user,
            "password": secrets.get("password") or None,
            "client_keys": keys,
            "agent_path": None,
            "known_hosts": known_hosts,
            "client_factory": check.client,
            # Confirming a change: let the server show a key of another type too
            # (otherwise only the pinned key's type is asked for).
            "server_host_key_algs": "default" if confirmed else (),
            "connect_timeout": 15,
            "login_timeout": 15,
        }
        try:
            connection = await self._connect(options)
            try:
                shown = connection.get_server_host_key()
                trusted = self._record(vault, own, pinned, shown, confirmed)
                async with connection.start_sftp_client() as sftp:
                    return await work(sftp), trusted
            finally:
                connection.close()
                await connection.wait_closed()
        except asyncssh.PermissionDenied as exc:
            raise PartnerAuthError(
                f"{self.label}: credentials refused ({exc.reason})", partner=PARTNER
            ) from exc
        except asyncssh.HostKeyNotVerifiable as exc:
            raise PartnerAuthError(self._refusal(pinned, check.shown), partner=PARTNER) from exc
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

    async def _connect(self, options: dict[str, object]) -> asyncssh.SSHClientConnection:
        """An SSH connection to an address the outbound policy allows, tried in the
        resolver's order; the host key is checked under the host's name. One error for
        every way of not getting an SSH session (see the module)."""
        try:
            addresses = self.outbound.addresses(self.host, self.port)
        except OutboundRefused as exc:
            raise PartnerError(f"{self.label}: refused: {exc}", partner=PARTNER) from None
        except httpcore.ConnectError:
            addresses = []
        for address in addresses:
            try:
                return await asyncssh.connect(
                    address, self.port, host_key_alias=self.host, **options
                )
            except (asyncssh.PermissionDenied, asyncssh.HostKeyNotVerifiable):
                raise
            except (TimeoutError, asyncssh.Error, OSError):
                continue
        raise TransientPartnerError(
            f"{self.label}: no SSH session could be opened with {self.host}:{self.port}",
            partner=PARTNER,
        )

    def _record(
        self,
        vault: CredentialVault,
        own: str | None,
        pinned: str | None,
        key: asyncssh.SSHKey | None,
        confirmed: frozenset[str],
    ) -> str | None:
        """Pin the key the server showed when it is not the one pinned under this host's
        name (first use, a confirmed change, or the earlier single key copied); what to
        tell the operator (None when nothing new was trusted)."""
        if key is None:
            return None
        shown = key.export_public_key().decode().strip()
        if own == shown:
            return None
        with vault.update() as stored:
            stored[self.host_key_secret] = shown
        seen = fingerprint(key)
        if pinned and fingerprint(pinned) == seen:
            return None  # the earlier single key, now under the per-host name
        where = f"{self.host}:{self.port}"
        if pinned:
            note = f"host key of {where} changed to {seen}, as confirmed"
        elif seen in confirmed:
            note = f"host key of {where} trusted: {seen}, as confirmed"
        else:
            note = f"host key of {where} trusted on first use: {seen}"
        log.warning("%s SFTP %s", PARTNER, note)
        return note

    def _refusal(self, pinned: str | None, shown: asyncssh.SSHKey | None) -> str:
        where = f"{self.host}:{self.port}"
        seen = fingerprint(shown) if shown is not None else "an unknown key"
        if pinned:
            head = (
                f"{self.label}: the server's host key is not the one pinned: pinned "
                f"{fingerprint(pinned)}, {where} shows {seen}"
            )
        else:
            head = f"{self.label}: {where} shows host key {seen}, not the one given"
        return (
            f"{head}. If the change is expected (check with the server's administrator), "
            f"connect the feed again with --trust-host-key {seen}"
        )

    def _pattern(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def host_key_secret(host: str, port: int) -> str:
    """The vault name of the host key pinned for ``host:port``."""
    return f"{HOST_KEY}:{host.lower()}:{port}"


def trust_secret(host: str, port: int) -> str:
    """The vault name of the fingerprints confirmed for ``host:port`` (used once)."""
    return f"{TRUST_HOST_KEY}:{host.lower()}:{port}"


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
