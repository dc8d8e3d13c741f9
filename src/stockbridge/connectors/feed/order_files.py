"""Web orders out as files, for back offices that import them (a POS without an API).

One file per order, named after the web order number (``order-1001.json`` or ``.csv``).
A file is written under a temporary dot-name in the same folder and renamed when it is
complete, so an importer never sees a partial file under the final name. Exactly once:
the hub marks the orders uncertain before writing; ``existing()`` (does the final file
exist?) is how an uncertain order is looked up after a crash, before it is written again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
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
    "FolderDestination",
    "OrderDestination",
    "SftpDestination",
    "file_name",
    "render",
    "write_atomically",
]

PARTNER = "feed"
TEMP_PREFIX = ".stockbridge-"
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


class OrderDestination(Protocol):
    """Where order files go. ``write`` is atomic; ``existing`` is read-only."""

    @property
    def label(self) -> str: ...

    def check(self) -> str: ...

    def write(self, files: Sequence[tuple[str, bytes]]) -> None: ...

    def existing(self, names: Sequence[str]) -> set[str]: ...


@dataclass
class FolderDestination:
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

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Raises ``TransientPartnerError`` when the disk refuses (full, gone): which files
        were written is then unknown, and the hub looks before writing again."""
        self.check()
        try:
            for name, data in files:
                write_atomically(self.folder, name, [data])
        except OSError as exc:
            raise TransientPartnerError(
                f"writing order files to {self.folder}: {exc}", partner=PARTNER
            ) from exc

    def existing(self, names: Sequence[str]) -> set[str]:
        self.check()
        try:
            return {name for name in names if (self.folder / name).is_file()}
        except OSError as exc:
            raise TransientPartnerError(
                f"looking for order files in {self.folder}: {exc}", partner=PARTNER
            ) from exc


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

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        async def put(sftp: asyncssh.SFTPClient) -> None:
            for name, data in files:
                temp = self._path(f"{TEMP_PREFIX}{uuid.uuid4().hex}.tmp")
                try:
                    async with sftp.open(temp, "wb") as remote:
                        await remote.write(data)
                    await sftp.posix_rename(temp, self._path(name))
                except BaseException:
                    with contextlib.suppress(asyncssh.Error, OSError):
                        await sftp.remove(temp)
                    raise

        self.endpoint.run(self.vault, put)

    def existing(self, names: Sequence[str]) -> set[str]:
        async def look(sftp: asyncssh.SFTPClient) -> set[str]:
            return {name for name in names if await sftp.exists(self._path(name))}

        return self.endpoint.run(self.vault, look)
