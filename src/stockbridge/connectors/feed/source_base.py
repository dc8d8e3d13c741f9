"""What every feed source shares: a fetched file (``Fetched``), the ``Source`` port, and
where downloads are spooled."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

__all__ = ["CHUNK", "DEFAULT_MAX_BYTES", "PARTNER", "SFTP_CHUNK", "Fetched", "Source"]

log = logging.getLogger("stockbridge.partner")
PARTNER = "feed"
CHUNK = 1 << 16
#: What one SFTP read asks for (asyncssh splits it into parallel requests).
SFTP_CHUNK = 1 << 20
#: The largest feed file downloaded (setting ``max_file_mb``): a runaway feed must not
#: fill the disk.
DEFAULT_MAX_BYTES = 2 * 1024**3


def _nothing() -> None:
    return None


@dataclass
class Fetched:
    """One file to read. ``cleanup`` removes a temporary download (safe twice)."""

    path: Path
    name: str
    produced_at: datetime | None = None
    on_accepted: Callable[[], None] = _nothing
    on_rejected: Callable[[], None] = _nothing
    cleanup: Callable[[], None] = _nothing


class Source(Protocol):
    """A feed's origin. ``fetch`` yields the files to read now, oldest first."""

    label: str

    def check(self) -> str: ...

    def fetch(self) -> Iterator[Fetched]: ...

    def close(self) -> None: ...


def _spool_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="stockbridge-download-"))


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
