"""Web orders out as files, for back offices that import them (a POS without an API).

One file per order, named after the web order number (``order-1001.json`` or ``.csv``).
Exactly once, even when the back office's importer takes the files away after reading
them: the hub keeps a ledger in the destination itself, a hidden subfolder
``.stockbridge-sent/`` holding one small marker per order file written. Each file:

1. is written completely under a temporary dot-name (``.stockbridge-order-1001.json.tmp``)
   in the destination and flushed to disk;
2. gets its marker (``.stockbridge-sent/order-1001.json``), created atomically (a
   temporary file renamed into place, the folder flushed where the system allows);
3. is renamed to its final name, so an importer never sees a partial file.

The hub marks orders uncertain before writing; ``existing()`` is how an uncertain order
is looked up: a marker means written (if the temporary file is still there, the hub died
between 2 and 3 and the rename is finished first); no marker means not written (a
leftover temporary file is removed and written again). The importer never matches the
ledger (a hidden subfolder) and may move or delete the order files freely. Markers are
never removed: a few hundred bytes per order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import asyncssh

from stockbridge.connectors.errors import PartnerError, TransientPartnerError
from stockbridge.connectors.feed.sftp import SftpEndpoint
from stockbridge.connectors.registry import CredentialVault
from stockbridge.domain.model import WebOrder

__all__ = [
    "LEDGER",
    "FolderDestination",
    "OrderDestination",
    "SftpDestination",
    "Written",
    "file_name",
    "render",
    "temp_name",
    "write_atomically",
]

PARTNER = "feed"
TEMP_PREFIX = ".stockbridge-"
#: The hidden subfolder of the destination that records each order file written.
LEDGER = ".stockbridge-sent"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


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
                order.number,
                order.placed_at.isoformat() if order.placed_at else "",
                order.currency,
                str(order.total),
                line.sku,
                line.name,
                line.quantity,
                str(line.unit_price),
            ]
        )
    return out.getvalue().encode()


def write_atomically(folder: Path, name: str, chunks: Iterable[bytes]) -> Path:
    """Write ``chunks`` to ``folder/name``: to a temporary dot-file, flushed to disk, then
    renamed. If anything fails on the way the temporary file is removed and ``name`` was
    never visible."""
    temp = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}.tmp"
    try:
        with temp.open("xb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, folder / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return folder / name


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
    """Where an order file is written before its marker and rename."""
    return f"{TEMP_PREFIX}{name}.tmp"


def _marker(name: str) -> bytes:
    return (json.dumps({"file": name, "written_at": time.time()}) + "\n").encode()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the system allows opening folders."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


@dataclass
class FolderDestination:
    folder: Path

    @property
    def label(self) -> str:
        return str(self.folder)

    @property
    def ledger(self) -> Path:
        return self.folder / LEDGER

    def check(self) -> str:
        if not self.folder.is_dir() or not os.access(self.folder, os.W_OK | os.X_OK):
            raise PartnerError(
                f"orders folder {self.folder} is not a writable folder", partner=PARTNER
            )
        return self.label

    def write(self, files: Sequence[tuple[str, bytes]]) -> Written:
        """A disk that refuses (full, gone) stops the batch: the file it failed on is not
        written (nothing of it is left), the ones before it are complete."""
        self.check()
        done: list[str] = []
        try:
            self.ledger.mkdir(exist_ok=True)
        except OSError as exc:
            return Written(done, self._failed(exc))
        for name, data in files:
            try:
                self._write_one(name, data)
            except OSError as exc:
                return Written(done, self._failed(exc))
            done.append(name)
        return Written(done)

    def _failed(self, exc: OSError) -> TransientPartnerError:
        return TransientPartnerError(
            f"writing order files to {self.folder}: {exc}", partner=PARTNER
        )

    def _write_one(self, name: str, data: bytes) -> None:
        temp = self.folder / temp_name(name)
        try:
            with temp.open("wb") as out:  # a leftover of a run that died is overwritten
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        try:
            write_atomically(self.ledger, name, [_marker(name)])
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_folder(self.ledger)
        try:
            self._publish(temp, self.folder / name)
        except OSError:
            # The rename did not happen: undo the marker, then the file. If the marker
            # cannot go, the file stays too and the next lookup finishes the rename.
            (self.ledger / name).unlink()
            _fsync_folder(self.ledger)
            temp.unlink(missing_ok=True)
            raise
        _fsync_folder(self.folder)

    def _publish(self, temp: Path, final: Path) -> None:
        os.replace(temp, final)

    def existing(self, names: Sequence[str]) -> set[str]:
        self.check()
        found: set[str] = set()
        try:
            for name in names:
                temp = self.folder / temp_name(name)
                if (self.ledger / name).is_file():
                    if temp.exists():  # died between the marker and the rename
                        self._publish(temp, self.folder / name)
                        _fsync_folder(self.folder)
                    found.add(name)
                else:
                    temp.unlink(missing_ok=True)
        except OSError as exc:
            raise TransientPartnerError(
                f"looking for order files in {self.folder}: {exc}", partner=PARTNER
            ) from exc
        return found


_SFTP_ERRORS = (asyncssh.Error, OSError)


async def _sftp_rename(sftp: asyncssh.SFTPClient, old: str, new: str) -> None:
    try:
        await sftp.posix_rename(old, new)
    except asyncssh.SFTPOpUnsupported:
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(new)
        await sftp.rename(old, new)


async def _sftp_put(sftp: asyncssh.SFTPClient, path: str, data: bytes) -> None:
    async with sftp.open(path, "wb") as remote:
        await remote.write(data)
        with contextlib.suppress(asyncssh.SFTPOpUnsupported):
            await remote.fsync()


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

    def write(self, files: Sequence[tuple[str, bytes]]) -> Written:
        """As the folder's: the same three steps over SFTP. A connection that cannot be
        made raises (nothing was written)."""

        async def put(sftp: asyncssh.SFTPClient) -> Written:
            done: list[str] = []
            try:
                await sftp.makedirs(self._path(LEDGER), exist_ok=True)
                for name, data in files:
                    await self._write_one(sftp, name, data)
                    done.append(name)
            except _SFTP_ERRORS as exc:
                return Written(
                    done,
                    TransientPartnerError(
                        f"writing order files to {self.label}: {type(exc).__name__}: {exc}",
                        partner=PARTNER,
                    ),
                )
            return Written(done)

        return self.endpoint.run(self.vault, put)

    async def _write_one(self, sftp: asyncssh.SFTPClient, name: str, data: bytes) -> None:
        temp = self._path(temp_name(name))
        marker = self._marker_path(name)
        marker_temp = self._path(f"{LEDGER}/{TEMP_PREFIX}{uuid.uuid4().hex}.tmp")
        try:
            await _sftp_put(sftp, temp, data)
            await _sftp_put(sftp, marker_temp, _marker(name))
            await _sftp_rename(sftp, marker_temp, marker)
        except BaseException:
            with contextlib.suppress(*_SFTP_ERRORS):
                await sftp.remove(marker_temp)
            with contextlib.suppress(*_SFTP_ERRORS):
                await sftp.remove(temp)
            raise
        try:
            await _sftp_rename(sftp, temp, self._path(name))
        except _SFTP_ERRORS:
            # As the folder's: undo the marker, then the file (or leave both for the
            # next lookup to finish the rename).
            await sftp.remove(marker)
            with contextlib.suppress(*_SFTP_ERRORS):
                await sftp.remove(temp)
            raise

    def existing(self, names: Sequence[str]) -> set[str]:
        async def look(sftp: asyncssh.SFTPClient) -> set[str]:
            found: set[str] = set()
            for name in names:
                temp = self._path(temp_name(name))
                if await sftp.exists(self._marker_path(name)):
                    if await sftp.exists(temp):  # died between the marker and the rename
                        await _sftp_rename(sftp, temp, self._path(name))
                    found.add(name)
                elif await sftp.exists(temp):
                    await sftp.remove(temp)
            return found

        return self.endpoint.run(self.vault, look)
