"""Files in folders other people write to: never through a symlink planted there.

An order destination is written by the hub and emptied by the back office's importer; a
feed folder is filled by the POS. Whoever writes such a folder could plant a symlink at a
name the hub is about to use and make it overwrite (or read) any file the hub may touch,
its own credentials key included. So here:

- every name is looked up relative to a descriptor of its folder, never through a path
  that a symlink could reroute midway; a subfolder the hub uses (the ledger,
  ``processed/``) is opened with ``O_NOFOLLOW`` and refused when it is a link;
- a new file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (an existing name, a
  dangling link included, is refused, never followed) under a random name;
- a rename onto a name replaces a symlink there instead of writing through it.

Errors: ``OSError`` as the system raises it, or ``SymlinkRefused`` (an ``OSError``) for a
planted link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "SymlinkRefused",
    "create_new",
    "fsync_folder",
    "is_file",
    "open_folder",
    "random_name",
    "read_small",
    "subfolder",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class SymlinkRefused(OSError):
    """A name the hub uses in a shared folder is a symbolic link: refused."""


def random_name(prefix: str, suffix: str) -> str:
    """``prefix`` + 16 random hex digits + ``suffix``: a name nobody can plant ahead."""
    return f"{prefix}{secrets.token_hex(8)}{suffix}"


@contextmanager
def open_folder(path: Path) -> Iterator[int]:
    """A descriptor of ``path`` (the configured folder, followed if it is a link: that is
    the operator's choice), closed after the block."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def subfolder(parent_fd: int, name: str, *, label: str, mode: int = 0o700) -> Iterator[int]:
    """A descriptor of the subfolder ``name`` of ``parent_fd``, created (``mode``) when
    missing; ``SymlinkRefused`` when ``name`` is a symbolic link (or not a folder)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, mode, dir_fd=parent_fd)
    try:
        fd = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SymlinkRefused(
                exc.errno, f"{label} is a symbolic link or not a folder; refused"
            ) from None
        raise
    try:
        yield fd
    finally:
        os.close(fd)


def create_new(folder_fd: int, name: str, chunks: Iterable[bytes], *, mode: int = 0o600) -> None:
    """Create ``name`` in the folder (never an existing name, never through a link), write
    ``chunks`` and flush them to disk. On any failure the file is removed again."""
    fd = os.open(name, _NEW_FILE, mode, dir_fd=folder_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=folder_fd)
        raise


def is_file(folder_fd: int, name: str) -> bool:
    """Whether ``name`` is a regular file itself (a symlink is not, wherever it points)."""
    try:
        found = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(found.st_mode)


def read_small(folder_fd: int, name: str, limit: int = 1 << 16) -> bytes:
    """The first ``limit`` bytes of the regular file ``name`` (never through a link)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


def fsync_folder(folder_fd: int) -> None:
    """Make renames in the folder durable, where the system allows it."""
    with contextlib.suppress(OSError):
        os.fsync(folder_fd)
