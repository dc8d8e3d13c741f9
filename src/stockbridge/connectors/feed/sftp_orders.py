"""Order files on an SFTP server: the same three steps and ledger as ``order_files``.

The server writes the folder, so it is the server that must not follow a planted link:
every new file is opened with ``FXF_CREAT | FXF_EXCL`` (the server's ``O_EXCL``, which
refuses any existing name, a symlink included) under a random name, a rename replaces a
link at its target instead of writing through it, and the ledger folder is looked at
(``lstat``) and refused when it is a link. SFTP has no folder descriptors: a link swapped
in for the ledger between that look and the writes is not caught (the server's own
confinement, a chroot, is what bounds that).
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from stockbridge.connectors.errors import TransientPartnerError
from stockbridge.connectors.feed.order_files import (
    LEDGER,
    TEMP_PREFIX,
    Written,
    is_temp_of,
    marked_temp,
    marker,
    temp_name,
)
from stockbridge.connectors.feed.safe_files import random_name
from stockbridge.connectors.feed.sftp import SftpEndpoint
from stockbridge.connectors.feed.ssh_lib import asyncssh
from stockbridge.connectors.registry import CredentialVault

__all__ = ["SftpDestination"]

PARTNER = "feed"


def _sftp_errors() -> tuple[type[BaseException], ...]:
    """What an SFTP session may raise (asyncssh is imported by then: a session is open)."""
    return (asyncssh.Error, OSError)


class LedgerIsALink(OSError):
    """The ledger folder on the server is a symbolic link (or not a folder): refused."""


async def _rename(sftp: asyncssh.SFTPClient, old: str, new: str) -> None:
    try:
        await sftp.posix_rename(old, new)
    except asyncssh.SFTPOpUnsupported:
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(new)
        await sftp.rename(old, new)


async def _put_new(sftp: asyncssh.SFTPClient, path: str, data: bytes, mode: int | None) -> None:
    """Create ``path`` (never an existing name) and write ``data``."""
    attrs = asyncssh.SFTPAttrs(permissions=mode)
    async with sftp.open(path, "xb", attrs) as remote:
        await remote.write(data)
        with contextlib.suppress(asyncssh.SFTPOpUnsupported):
            await remote.fsync()


async def _is_file(sftp: asyncssh.SFTPClient, path: str) -> bool:
    """Whether ``path`` is a regular file itself (a link is not, wherever it points)."""
    try:
        attrs = await sftp.lstat(path)
    except asyncssh.SFTPNoSuchFile:
        return False
    return attrs.permissions is not None and stat.S_ISREG(attrs.permissions)


@dataclass
class SftpDestination:
    endpoint: SftpEndpoint
    vault: CredentialVault

    @property
    def label(self) -> str:
        return self.endpoint.label

    def check(self) -> str:
        return self.endpoint.check(self.vault)

    def _path(self, name: str) -> str:
        return f"{self.endpoint.path.rstrip('/')}/{name}"

    def _marker_path(self, name: str) -> str:
        return self._path(f"{LEDGER}/{name}")

    async def _ledger(self, sftp: asyncssh.SFTPClient) -> None:
        """Make sure the ledger is a folder of its own, not a link planted there."""
        ledger = self._path(LEDGER)
        await sftp.makedirs(ledger, attrs=asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
        attrs = await sftp.lstat(ledger)
        if attrs.permissions is None or not stat.S_ISDIR(attrs.permissions):
            raise LedgerIsALink(
                f"the orders ledger {ledger} is a symbolic link or not a folder; refused"
            )

    def write(self, files: Sequence[tuple[str, bytes]]) -> Written:
        """As the folder's: the same three steps over SFTP, order files with the folder's
        read and write bits. A connection that cannot be made raises (nothing was
        written)."""

        async def put(sftp: asyncssh.SFTPClient) -> Written:
            done: list[str] = []
            try:
                await self._ledger(sftp)
                folder = await sftp.stat(self.endpoint.path)
                mode = None if folder.permissions is None else folder.permissions & 0o666
                for name, data in files:
                    await self._write_one(sftp, name, data, mode)
                    done.append(name)
            except _sftp_errors() as exc:
                return Written(
                    done,
                    TransientPartnerError(
                        f"writing order files to {self.label}: {type(exc).__name__}: {exc}",
                        partner=PARTNER,
                    ),
                )
            return Written(done)

        return self.endpoint.run(self.vault, put)

    async def _write_one(
        self, sftp: asyncssh.SFTPClient, name: str, data: bytes, mode: int | None
    ) -> None:
        temp_file = temp_name(name)
        temp = self._path(temp_file)
        mark = self._marker_path(name)
        marker_temp = self._path(f"{LEDGER}/{random_name(TEMP_PREFIX, '.tmp')}")
        try:
            await _put_new(sftp, temp, data, mode)
            await _put_new(sftp, marker_temp, marker(name, temp_file), 0o600)
            await _rename(sftp, marker_temp, mark)
        except BaseException:
            with contextlib.suppress(*_sftp_errors()):
                await sftp.remove(marker_temp)
            with contextlib.suppress(*_sftp_errors()):
                await sftp.remove(temp)
            raise
        try:
            await _rename(sftp, temp, self._path(name))
        except _sftp_errors():
            # As the folder's: undo the marker, then the file (or leave both for the
            # next lookup to finish the rename).
            await sftp.remove(mark)
            with contextlib.suppress(*_sftp_errors()):
                await sftp.remove(temp)
            raise

    def existing(self, names: Sequence[str]) -> set[str]:
        async def look(sftp: asyncssh.SFTPClient) -> set[str]:
            found: set[str] = set()
            leftovers: list[str] | None = None
            for name in names:
                if await _is_file(sftp, self._marker_path(name)):
                    async with sftp.open(self._marker_path(name), "rb") as handle:
                        content = await handle.read(1 << 16)
                    temp = self._path(marked_temp(name, content))
                    if await _is_file(sftp, temp):  # died between the marker and the rename
                        await _rename(sftp, temp, self._path(name))
                    found.add(name)
                    continue
                if leftovers is None:  # one listing for the whole lookup
                    listing = await sftp.listdir(self.endpoint.path)
                    leftovers = [str(n) for n in listing if str(n).startswith(TEMP_PREFIX)]
                for entry in leftovers:
                    if is_temp_of(entry, name):
                        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                            await sftp.remove(self._path(entry))
            return found

        return self.endpoint.run(self.vault, look)
