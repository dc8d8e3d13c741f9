"""``STOCKBRIDGE_HOME`` is private: the folder 0700; the SQLite database with its WAL and
SHM files, and the credentials key, 0600 (customer emails, password hashes, sessions and
the key to every partner credential live there).

``make_private`` runs whenever the hub opens (``bootstrap``: ``init``, ``serve`` and every
command). A new home and new files are created private; an install made before this
(0755 and 0644) is fixed then, with one log line saying what changed. Only the hub's
own files are touched; a database kept outside the home gets its files fixed, not its
folder.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from stockbridge.config import Settings
from stockbridge.db.engine import sqlite_files

__all__ = ["make_private"]

log = logging.getLogger(__name__)
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private(settings: Settings) -> list[str]:
    """Create the home (0700) if missing and take group and other permissions off it and
    the hub's files. Returns what was changed (``"<path> 0644 -> 0600"``), also logged."""
    home = settings.home_dir
    home.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    changed = [_restrict(home, FOLDER_MODE)]
    for path in [settings.key_path, *sqlite_files(settings.resolved_database_url)]:
        changed.append(_restrict(path, FILE_MODE))
    fixed = [c for c in changed if c]
    if fixed:
        log.warning("permissions of the hub's private files fixed: %s", ", ".join(fixed))
    return fixed


def _restrict(path: Path, mode: int) -> str | None:
    """Take every permission beyond ``mode`` off ``path`` (if it exists); what changed."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    current = stat.S_IMODE(found.st_mode)
    wanted = current & mode
    if current == wanted:
        return None
    os.chmod(path, wanted)
    return f"{path} {current:04o} -> {wanted:04o}"
