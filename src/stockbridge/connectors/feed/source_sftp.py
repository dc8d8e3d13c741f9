"""A feed on an SFTP server: one file, host keys pinned per host and port, the download
capped while streaming."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from stockbridge.connectors.errors import PartnerError
from stockbridge.connectors.feed.sftp import SftpEndpoint
from stockbridge.connectors.feed.source_base import (
    DEFAULT_MAX_BYTES,
    PARTNER,
    SFTP_CHUNK,
    Fetched,
    _spool_dir,
)
from stockbridge.connectors.feed.ssh_lib import asyncssh
from stockbridge.connectors.registry import CredentialVault

__all__ = ["SftpSource"]


@dataclass
class SftpSource:
    """One file on an SFTP server, downloaded when its size or time changed since the
    last applied one."""

    endpoint: SftpEndpoint
    vault: CredentialVault
    max_bytes: int = DEFAULT_MAX_BYTES
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = self.endpoint.label

    def check(self) -> str:
        return self.endpoint.check(self.vault)

    def fetch(self) -> Iterator[Fetched]:
        directory = _spool_dir()
        target = directory / "feed"
        seen = self.vault.load().get("feed_signature")

        async def download(sftp: asyncssh.SFTPClient) -> tuple[str, int | None] | None:
            attrs = await sftp.stat(self.endpoint.path)
            signature = f"{attrs.size}:{attrs.mtime}"
            if signature == seen:
                return None
            if attrs.size is not None and attrs.size > self.max_bytes:
                raise PartnerError(
                    f"{self.label}: the file is larger than {self.max_bytes // 1024**2} MB "
                    "(max_file_mb); not read",
                    partner=PARTNER,
                )
            await self._download(sftp, target)
            return signature, attrs.mtime

        try:
            found = self.endpoint.run(self.vault, download)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        if found is None:
            shutil.rmtree(directory, ignore_errors=True)
            return
        signature, mtime = found

        def remember() -> None:
            with self.vault.update() as secrets:
                secrets["feed_signature"] = signature

        yield Fetched(
            target,
            self.label,
            produced_at=None if mtime is None else datetime.fromtimestamp(mtime, UTC),
            on_accepted=remember,
            cleanup=lambda: shutil.rmtree(directory, ignore_errors=True),
        )

    async def _download(self, sftp: asyncssh.SFTPClient, target: Path) -> None:
        """Copy the file in chunks, counting: the cap holds while the file downloads (it
        may have grown since the look at its size)."""
        size = 0
        async with sftp.open(self.endpoint.path, "rb") as remote:
            with target.open("wb") as out:
                while chunk := await remote.read(SFTP_CHUNK):
                    assert isinstance(chunk, bytes)  # opened "rb": no encoding
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PartnerError(
                            f"{self.label}: the file is larger than "
                            f"{self.max_bytes // 1024**2} MB (max_file_mb); not read",
                            partner=PARTNER,
                        )
                    out.write(chunk)

    def close(self) -> None:
        return None
