"""A feed in a local folder: files matching a pattern, read once settled, moved to
``processed/`` or ``rejected/``; never through a symlink out of the folder."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from stockbridge.connectors.errors import PartnerError
from stockbridge.connectors.feed import safe_files
from stockbridge.connectors.feed.source_base import (
    PARTNER,
    Fetched,
    _mtime,
    log,
)

__all__ = ["FolderSource"]


@dataclass
class FolderSource:
    """Files in a folder matching ``pattern``: the newest one (``files`` = newest) or
    each one oldest first (``all``). A handled file moves to ``processed/`` (with older
    ones the newest superseded) or ``rejected/``. Files changed in the last
    ``settle_seconds`` are left for the next pull: a writer may still be at work.
    """

    folder: Path
    pattern: str = "*"
    files: str = "newest"
    settle_seconds: float = 5.0
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = str(self.folder)

    def check(self) -> str:
        if not self.folder.is_dir():
            raise PartnerError(f"{self.folder} is not a folder", partner=PARTNER)
        if not os.access(self.folder, os.R_OK | os.W_OK | os.X_OK):
            raise PartnerError(
                f"{self.folder}: the hub needs to read and move files there", partner=PARTNER
            )
        return self.label

    def _ready(self) -> list[tuple[str, Path]]:
        """Settled files matching the pattern, oldest first: (name in the folder, path to
        read). A symlink counts only when it leads to a file inside the folder (the path
        read is where it leads); one out of the folder, or to a folder, is skipped with a
        warning."""
        self.check()
        home = self.folder.resolve()
        now = time.time()
        found: list[tuple[float, str, Path]] = []
        for entry in os.scandir(self.folder):
            if entry.name.startswith(".") or not fnmatch(entry.name, self.pattern):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                path = path.resolve()
                if not path.is_relative_to(home) or not path.is_file():
                    log.warning(
                        "%s: %s is a symbolic link out of the folder (or to a folder); not read",
                        PARTNER,
                        entry.path,
                    )
                    continue
            elif not entry.is_file(follow_symlinks=False):
                continue
            mtime = path.stat().st_mtime
            if now - mtime >= self.settle_seconds:
                found.append((mtime, entry.name, path))
        return [(name, path) for _m, name, path in sorted(found)]

    def fetch(self) -> Iterator[Fetched]:
        ready = self._ready()
        if not ready:
            return
        if self.files == "newest":
            (newest, path), older = ready[-1], ready[:-1]

            def done() -> None:
                for name in [*(n for n, _p in older), newest]:
                    _move(self.folder, name, "processed")

            yield Fetched(
                path,
                newest,
                produced_at=_mtime(path),
                on_accepted=done,
                on_rejected=lambda: _move(self.folder, newest, "rejected"),
            )
            return
        for name, path in ready:
            yield Fetched(
                path,
                name,
                produced_at=_mtime(path),
                on_accepted=lambda n=name: _move(self.folder, n, "processed"),  # type: ignore[misc]
                on_rejected=lambda n=name: _move(self.folder, n, "rejected"),  # type: ignore[misc]
            )

    def close(self) -> None:
        return None


def _move(folder: Path, name: str, into: str) -> None:
    """Move the entry ``name`` (a file, or a link itself: never what it points at) into
    the subfolder ``into``, never over an earlier file of the same name. A subfolder
    that is a symbolic link is refused (``PartnerError``): the file stays and is read
    again next time."""
    try:
        with (
            safe_files.open_folder(folder) as folder_fd,
            safe_files.subfolder(folder_fd, into, label=f"{folder / into}", mode=0o777) as to,
        ):
            try:
                os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            except FileNotFoundError:
                return
            target = name
            with contextlib.suppress(FileNotFoundError):
                os.stat(target, dir_fd=to, follow_symlinks=False)
                stem, dot, suffix = name.rpartition(".")
                stem, suffix = (stem, dot + suffix) if stem else (name, "")
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                target = f"{stem}.{stamp}.{os.getpid()}{suffix}"
            os.replace(name, target, src_dir_fd=folder_fd, dst_dir_fd=to)
    except safe_files.SymlinkRefused as exc:
        raise PartnerError(f"{folder}: {exc.strerror}", partner=PARTNER) from None


# SFTP ---------------------------------------------------------------------------------
