"""Web orders out as files, for back offices that import them (a POS without an API).

One file per order, named after the web order number (``order-1001.json`` or ``.csv``).
Exactly once, even when the back office's importer takes the files away after reading
them: the hub keeps a ledger in the destination itself, a hidden subfolder
``.stockbridge-sent/`` holding one small marker per order file written. Each file:

1. is written completely under a new, random temporary dot-name
   (``.stockbridge-order-1001.json.<16 hex>.tmp``, created with ``O_EXCL | O_NOFOLLOW``)
   in the destination and flushed to disk;
2. gets its marker (``.stockbridge-sent/order-1001.json``, naming that temporary file),
   created atomically (a new temporary file renamed into place, the folder flushed
   where the system allows);
3. is renamed to its final name, so an importer never sees a partial file.

The hub marks orders uncertain before writing; ``existing()`` is how an uncertain order
is looked up: a marker means written (if the temporary file it names is still there, the
hub died between 2 and 3 and the rename is finished first); no marker means not written
(a leftover temporary file is removed and written again). The importer never matches the
ledger (a hidden subfolder) and may move or delete the order files freely. Markers are
never removed: a few hundred bytes per order.

Whoever writes the destination (the importer, by design) could plant symlinks there: no
name the hub writes is predictable, a new file never opens an existing name, a rename
replaces a link rather than writing through it, and a ledger folder that is a link is
refused (``safe_files``; over SFTP the server's ``O_EXCL`` and a look at the ledger).

CSV cells that would start a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab,
carriage return, NUL) get a leading ``'`` (OWASP's advice on CSV injection); numbers in
the numeric columns are written as numbers, negative ones included.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stockbridge.connectors.errors import PartnerError, TransientPartnerError
from stockbridge.connectors.feed import safe_files
from stockbridge.domain.model import WebOrder

__all__ = [
    "LEDGER",
    "TEMP_PREFIX",
    "FolderDestination",
    "OrderDestination",
    "Written",
    "csv_text",
    "file_name",
    "is_temp_of",
    "marked_temp",
    "marker",
    "render",
    "temp_name",
    "write_atomically",
]

PARTNER = "feed"
TEMP_PREFIX = ".stockbridge-"
#: The hidden subfolder of the destination that records each order file written.
LEDGER = ".stockbridge-sent"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RANDOM_TEMP = re.compile(r"[0-9a-f]{16}\.tmp")
#: What makes a spreadsheet read a cell as a formula (OWASP, CSV injection; ASVS 1.2.10).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_text(value: str) -> str:
    """A text cell for a CSV file: prefixed with ``'`` when it would start a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def file_name(order: WebOrder, file_format: str) -> str:
    """``order-<number>.<format>``; characters a file name cannot carry become ``_``."""
    number = _UNSAFE.sub("_", order.number).lstrip(".") or "_"
    return f"order-{number}.{file_format}"


def render(order: WebOrder, file_format: str, idempotency_key: str) -> bytes:
    """The order as a JSON document or a CSV with one row per line (header first)."""
    if file_format == "json":
        document = {
            "web_order_id": order.web_id,
            "number": order.number,
            "status": order.status.value,
            "placed_at": order.placed_at.isoformat() if order.placed_at else None,
            "currency": order.currency,
            "total": str(order.total),
            "shipping": str(order.shipping),
            "discount": str(order.discount),
            "customer_email": order.customer_email,
            "idempotency_key": idempotency_key,
            "lines": [
                {
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                }
                for line in order.lines
            ],
        }
        return (json.dumps(document, indent=2) + "\n").encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["order_number", "placed_at", "currency", "total", "sku", "name", "quantity", "unit_price"]
    )
    for line in order.lines:
        writer.writerow(
            [
                csv_text(order.number),
                order.placed_at.isoformat() if order.placed_at else "",
                csv_text(order.currency),
                str(order.total),  # numbers stay numbers (a negative one too)
                csv_text(line.sku),
                csv_text(line.name),
                line.quantity,
                str(line.unit_price),
            ]
        )
    return out.getvalue().encode()


def write_atomically(
    folder: Path, name: str, chunks: Iterable[bytes], *, mode: int = 0o600
) -> Path:
    """Write ``chunks`` to ``folder/name``: to a new file under a random dot-name
    (``O_EXCL | O_NOFOLLOW``), flushed to disk, then renamed over ``name`` (a symlink
    there is replaced, never written through). If anything fails on the way the temporary
    file is removed and ``name`` was never visible."""
    with safe_files.open_folder(folder) as folder_fd:
        _write_in(folder_fd, name, chunks, mode=mode)
    return folder / name


def _write_in(folder_fd: int, name: str, chunks: Iterable[bytes], *, mode: int) -> None:
    temp = safe_files.random_name(TEMP_PREFIX, ".tmp")
    safe_files.create_new(folder_fd, temp, chunks, mode=mode)
    try:
        os.replace(temp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder_fd)
        raise


@dataclass(frozen=True, slots=True)
class Written:
    """What ``write`` did: the names completed (final file and marker in place), in
    order, and the error that stopped it before the rest (None when all were)."""

    done: list[str]
    error: TransientPartnerError | None = None


class OrderDestination(Protocol):
    """Where order files go. ``write`` stops at the first file it cannot write and says
    which ones it completed; ``existing`` finishes a file whose marker is in place."""

    @property
    def label(self) -> str: ...

    def check(self) -> str: ...

    def write(self, files: Sequence[tuple[str, bytes]]) -> Written: ...

    def existing(self, names: Sequence[str]) -> set[str]: ...


def temp_name(name: str) -> str:
    """A new name to write ``name`` under before its marker and rename: hidden, and
    random (``.stockbridge-order-1001.json.<16 hex>.tmp``) so nobody can plant a link
    there ahead of the hub."""
    return safe_files.random_name(f"{TEMP_PREFIX}{name}.", ".tmp")


def is_temp_of(entry: str, name: str) -> bool:
    """Whether ``entry`` is a temporary file of ``name``: this version's random ones, or
    the fixed ``.stockbridge-<name>.tmp`` of earlier versions."""
    rest = entry.removeprefix(f"{TEMP_PREFIX}{name}.")
    return rest != entry and (rest == "tmp" or _RANDOM_TEMP.fullmatch(rest) is not None)


def marker(name: str, temp: str) -> bytes:
    """The ledger entry for ``name``; it names the temporary file that holds it until the
    rename, so a lookup after a crash can finish that rename."""
    return (json.dumps({"file": name, "temp": temp, "written_at": time.time()}) + "\n").encode()


def marked_temp(name: str, content: str | bytes) -> str:
    """The temporary file a marker names, if it is one of ``name``'s (a marker somebody
    forged naming any other path is ignored); else the fixed name of earlier versions."""
    try:
        temp = json.loads(content).get("temp")
    except (ValueError, AttributeError):
        temp = None
    if isinstance(temp, str) and "/" not in temp and is_temp_of(temp, name):
        return temp
    return f"{TEMP_PREFIX}{name}.tmp"


@dataclass
class FolderDestination:
    """Order files in a local folder, which the back office's importer also writes: every
    name is used through the folder's descriptor, never through a link planted there
    (``safe_files``). Order files get the folder's read and write bits (a folder only
    its owner may enter gets files only its owner may read); the ledger is the hub's own
    (0700, markers 0600)."""

    folder: Path

    @property
    def label(self) -> str:
        return str(self.folder)

    def check(self) -> str:
        if not self.folder.is_dir() or not os.access(self.folder, os.W_OK | os.X_OK):
            raise PartnerError(
                f"orders folder {self.folder} is not a writable folder", partner=PARTNER
            )
        return self.label

    def write(self, files: Sequence[tuple[str, bytes]]) -> Written:
        """A disk that refuses (full, gone) stops the batch: the file it failed on is not
        written (nothing of it is left), the ones before it are complete. A ledger that
        is a symbolic link refuses the batch."""
        self.check()
        done: list[str] = []
        try:
            with (
                safe_files.open_folder(self.folder) as folder_fd,
                safe_files.subfolder(folder_fd, LEDGER, label=self._ledger_label) as ledger_fd,
            ):
                mode = stat.S_IMODE(os.fstat(folder_fd).st_mode) & 0o666
                for name, data in files:
                    self._write_one(folder_fd, ledger_fd, name, data, mode)
                    done.append(name)
        except OSError as exc:
            return Written(done, self._failed(exc))
        return Written(done)

    @property
    def _ledger_label(self) -> str:
        return f"the orders ledger {self.folder / LEDGER}"

    def _failed(self, exc: OSError) -> TransientPartnerError:
        reason = exc.strerror if isinstance(exc, safe_files.SymlinkRefused) else exc
        return TransientPartnerError(
            f"writing order files to {self.folder}: {reason}", partner=PARTNER
        )

    def _write_one(self, folder_fd: int, ledger_fd: int, name: str, data: bytes, mode: int) -> None:
        temp = temp_name(name)
        safe_files.create_new(folder_fd, temp, [data], mode=mode)
        try:
            _write_in(ledger_fd, name, [marker(name, temp)], mode=0o600)
        except BaseException:
            os.unlink(temp, dir_fd=folder_fd)
            raise
        safe_files.fsync_folder(ledger_fd)
        try:
            self._publish(folder_fd, temp, name)
        except OSError:
            # The rename did not happen: undo the marker, then the file. If the marker
            # cannot go, the file stays too and the next lookup finishes the rename.
            os.unlink(name, dir_fd=ledger_fd)
            safe_files.fsync_folder(ledger_fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=folder_fd)
            raise
        safe_files.fsync_folder(folder_fd)

    def _publish(self, folder_fd: int, temp: str, final: str) -> None:
        """Rename ``temp`` to ``final`` (a link at ``final`` is replaced, not followed)."""
        os.replace(temp, final, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)

    def existing(self, names: Sequence[str]) -> set[str]:
        self.check()
        found: set[str] = set()
        try:
            with (
                safe_files.open_folder(self.folder) as folder_fd,
                safe_files.subfolder(folder_fd, LEDGER, label=self._ledger_label) as ledger_fd,
            ):
                leftovers = [n for n in os.listdir(folder_fd) if n.startswith(TEMP_PREFIX)]
                for name in names:
                    if safe_files.is_file(ledger_fd, name):
                        temp = marked_temp(name, safe_files.read_small(ledger_fd, name))
                        if safe_files.is_file(folder_fd, temp):  # died before the rename
                            self._publish(folder_fd, temp, name)
                            safe_files.fsync_folder(folder_fd)
                        found.add(name)
                    else:  # not written: a temporary file left by a crash goes
                        for entry in leftovers:
                            if is_temp_of(entry, name):
                                with contextlib.suppress(FileNotFoundError):
                                    os.unlink(entry, dir_fd=folder_fd)
        except OSError as exc:
            raise TransientPartnerError(
                f"looking for order files in {self.folder}: {exc}", partner=PARTNER
            ) from exc
        return found
