"""A feed file checked whole before anything is applied: the staged snapshot.

Every record is validated and written to a private SQLite file on disk, keyed by
(SKU, location), so a million-row feed never sits in memory and comes back sorted for
the hub's merge diff. Bad rows (missing SKU, a quantity that is not a whole number
>= 0, a bad price, a SKU given twice with different quantities) are kept with their line
and reason; above ``max_bad_share`` of the rows the whole file is rejected. A file
that cannot be read at all is rejected whole too.

A bad row that still names a SKU (and a location that is text) counts as present and
unchanged: its key is staged as protected, like a conflicting duplicate, so nothing
about that SKU at that location changes, and ``missing=zero`` does not take it for
absent. A row with no usable SKU (empty, too long) or a location that is not text
cannot protect anything: with ``missing=zero`` a SKU whose only row is such a row is
set to zero like any SKU the file leaves out.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from stockbridge.connectors.feed.formats import (
    BadRecord,
    FeedFormat,
    RawRecord,
    Unreadable,
    read_records,
)
from stockbridge.domain.model import DEFAULT_LOCATION, BackOfficeItem, ItemError, Page
from stockbridge.domain.snapshot import FeedRowLike

__all__ = ["MAX_REPORTED", "StagedSnapshot", "stage"]

#: Bad rows reported one by one on a run; the rest are counted in one summary line.
MAX_REPORTED = 100
MAX_QUANTITY = 2**31 - 1
MAX_SKU = 255
MAX_NAME = 500
BATCH = 5000

_SCHEMA = """
CREATE TABLE rows (
    sku TEXT NOT NULL, location TEXT NOT NULL, qty INTEGER NOT NULL,
    price TEXT, name TEXT, line INTEGER NOT NULL,
    dups TEXT, conflict INTEGER NOT NULL DEFAULT 0, bad INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, location)
) WITHOUT ROWID;
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY, sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER, price TEXT, name TEXT
);
"""
_INSERT = (
    "INSERT INTO rows (sku, location, qty, price, name, line) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (sku, location) DO UPDATE SET "
    "conflict = conflict OR (NOT bad AND qty != excluded.qty), "
    "dups = CASE WHEN bad THEN dups "
    "ELSE coalesce(dups || ',', '') || excluded.line || ':' || excluded.qty END"
)
#: A bad row's key, protected: a placeholder row (never applied) or a flag on the good one.
_PROTECT = (
    "INSERT INTO rows (sku, location, qty, line, bad) VALUES (?, ?, 0, ?, 1) "
    "ON CONFLICT (sku, location) DO UPDATE SET bad = 1"
)


class StagedSnapshot:
    """One feed file, validated and staged. ``rejection`` is None when it may be applied.

    ``produced_at`` is when the file was made, where the source tells (Last-Modified,
    the file's time); the hub takes orders posted before it as reflected in its stock.
    ``errors`` holds the first ``MAX_REPORTED`` bad rows (key "line N") and a summary of
    the rest; ``bad_rows`` counts them all. ``on_accepted``/``on_rejected`` are the
    source's follow-ups (remember the ETag, move the file to processed/ or rejected/).
    """

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        zero_missing: bool,
        produced_at: datetime | None = None,
        on_accepted: Callable[[], None] = lambda: None,
        on_rejected: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self.produced_at = produced_at
        self.zero_missing = zero_missing
        self.rows_read = 0
        self.bad_rows = 0
        self.errors: list[ItemError] = []
        self.rejection: str | None = None
        self._directory = directory
        self._on_accepted = on_accepted
        self._on_rejected = on_rejected
        self._db = sqlite3.connect(directory / "snapshot.db", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "PRAGMA temp_store=FILE;" + _SCHEMA
        )

    # reading the staged rows ----------------------------------------------------

    def rows(self) -> Iterator[FeedRowLike]:
        """Staged rows sorted by (SKU, location) in code-point order (SQLite compares
        UTF-8 bytes, which orders like code points). Plain tuples in ``FeedRow``'s field
        order, straight from SQLite: the diff reads them by position. The last field is
        true for a protected key (a conflicting duplicate or a bad row naming it): the
        hub keeps what it has there."""
        cursor = self._db.execute(
            "SELECT sku, location, qty, price, name, conflict OR bad FROM rows "
            "ORDER BY sku, location"
        )
        while batch := cursor.fetchmany(BATCH):
            yield from batch

    def stage_changes(self, items: Iterable[BackOfficeItem]) -> int:
        """Keep ``items`` (the diff against the hub) on disk; returns how many."""
        before = self._count_changes()
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO changes (sku, location, qty, price, name) VALUES (?, ?, ?, ?, ?)",
            (
                (i.sku, i.location, i.quantity, None if i.price is None else str(i.price), i.name)
                for i in items
            ),
        )
        self._db.execute("COMMIT")
        return self._count_changes() - before

    def _count_changes(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM changes").fetchone()[0])

    def changed_pages(self, size: int) -> Iterator[Page[BackOfficeItem]]:
        after = 0
        while True:
            batch = self._db.execute(
                "SELECT seq, sku, location, qty, price, name FROM changes WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, size),
            ).fetchall()
            if not batch:
                return
            after = batch[-1][0]
            yield Page(
                tuple(
                    BackOfficeItem(
                        sku=sku,
                        location=location,
                        quantity=qty,
                        price=None if price is None else Decimal(price),
                        name=name,
                    )
                    for _seq, sku, location, qty, price, name in batch
                )
            )

    # the end of its life ----------------------------------------------------------

    def accepted(self) -> None:
        """Applied completely: the source remembers it (ETag) or moves it to processed/."""
        self._on_accepted()

    def rejected(self) -> None:
        self._on_rejected()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    # staging ------------------------------------------------------------------------

    def _bad(self, line: int, reason: str, code: str = "bad-row") -> None:
        self.bad_rows += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(ItemError(f"line {line}", reason, code))

    def _load(self, records: Iterable[RawRecord | BadRecord]) -> None:
        batch: list[tuple[str, str, int, str | None, str | None, int]] = []
        protect: list[tuple[str, str, int]] = []
        insert = self._db.executemany
        self._db.execute("BEGIN")
        for record in records:
            self.rows_read += 1
            if type(record) is not tuple:
                assert isinstance(record, BadRecord)
                self._bad(record.line, record.reason)
                key = _key(record.sku, record.location)
                if key is not None:
                    protect.append((*key, record.line))
                    if len(protect) >= BATCH:
                        insert(_PROTECT, protect)
                        protect.clear()
                continue
            line, sku, qty, location, price, name = record
            checked = _check(sku, qty, location, price, name)
            if isinstance(checked, str):
                self._bad(line, checked)
                key = _key(sku, location)
                if key is not None:
                    protect.append((*key, line))
                    if len(protect) >= BATCH:
                        insert(_PROTECT, protect)
                        protect.clear()
                continue
            sku_s, qty_i, location_s, price_s, name_s = checked
            batch.append((sku_s, location_s, qty_i, price_s, name_s, line))
            if len(batch) >= BATCH:
                insert(_INSERT, batch)
                batch.clear()
        if batch:
            insert(_INSERT, batch)
        if protect:
            insert(_PROTECT, protect)
        self._db.execute("COMMIT")
        self._report_conflicts()

    def _report_conflicts(self) -> None:
        cursor = self._db.execute(
            "SELECT sku, location, qty, line, dups FROM rows WHERE conflict = 1 ORDER BY line"
        )
        for sku, location, qty, line, dups in cursor:
            where = "" if location == DEFAULT_LOCATION else f" at {location}"
            for entry in str(dups).split(","):
                dup_line, dup_qty = entry.split(":")
                self._bad(
                    int(dup_line),
                    f"SKU {sku}{where} given twice with different quantities: {dup_qty} here, "
                    f"{qty} on line {line} (neither is applied)",
                    "duplicate-sku",
                )

    def _judge(self, max_bad_share: float) -> None:
        if self.bad_rows > MAX_REPORTED:
            self.errors.append(
                ItemError(f"{self.name}", f"{self.bad_rows - MAX_REPORTED} more bad rows")
            )
        if self.rows_read == 0:
            # Never taken as "the back office has nothing": with --missing zero that
            # would empty the web store.
            self.rejection = f"{self.name} rejected: it has no rows; nothing applied"
            return
        share = self.bad_rows / self.rows_read
        if share > max_bad_share:
            self.rejection = (
                f"{self.name} rejected: {self.bad_rows} of {self.rows_read} rows are bad "
                f"({share:.1%}, more than the {max_bad_share:.1%} allowed); nothing applied"
            )


def _check(
    sku: Any, qty: Any, location: Any, price: Any, name: Any
) -> tuple[str, int, str, str | None, str | None] | str:
    """The row's clean values, or why it is bad (a str). Runs once per row of a
    million-row file: CSV's plain strings take the short paths."""
    if type(sku) is str:
        sku = sku.strip()
    elif sku is None or isinstance(sku, bool | dict | list):
        return "missing SKU"
    else:
        sku = str(sku).strip()
    if not sku:
        return "missing SKU"
    if len(sku) > MAX_SKU:
        return f"SKU longer than {MAX_SKU} characters"
    if type(qty) is str:
        text = qty.strip()
        if text.isdigit() and text.isascii():
            quantity = int(text)
        elif text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            return f"negative quantity {text} for SKU {sku}"
        elif not text:
            return f"missing quantity for SKU {sku}"
        else:
            return f"quantity {text[:40]!r} for SKU {sku} is not a whole number"
    elif type(qty) is int:
        quantity = qty
        if quantity < 0:
            return f"negative quantity {quantity} for SKU {sku}"
    elif isinstance(qty, Decimal) and qty.is_finite() and qty == qty.to_integral_value():
        quantity = int(qty)
        if quantity < 0:
            return f"negative quantity {quantity} for SKU {sku}"
    elif qty is None:
        return f"missing quantity for SKU {sku}"
    else:
        return f"quantity {str(qty)[:40]!r} for SKU {sku} is not a whole number >= 0"
    if quantity > MAX_QUANTITY:
        return f"quantity {quantity} for SKU {sku} is too large"
    if location is None:
        location_s = DEFAULT_LOCATION
    elif type(location) is str:
        location_s = location.strip()[:100] or DEFAULT_LOCATION
    elif isinstance(location, bool | dict | list):
        return f"location for SKU {sku} is not text"
    else:
        location_s = str(location)[:100]
    price_s: str | None = None
    if price is not None:
        text = price.strip() if type(price) is str else price
        if type(text) is str and text.isascii() and text.replace(".", "", 1).isdigit():
            price_s = text  # plain digits with at most one point: already clean
        elif text != "":
            price_s = _price(text)
            if price_s is None:
                return f"price {str(price)[:40]!r} for SKU {sku} is not a number >= 0"
    name_s: str | None = None
    if type(name) is str:
        name_s = name.strip()[:MAX_NAME] or None
    elif name is not None and not isinstance(name, dict | list):
        name_s = str(name)[:MAX_NAME]
    return sku, quantity, location_s, price_s, name_s


def _key(sku: Any, location: Any) -> tuple[str, str] | None:
    """The (SKU, location) a bad row still names, cleaned as ``_check`` cleans good
    rows', or None when it names none (no SKU, too long, a location that is not text)."""
    if sku is None or isinstance(sku, bool | dict | list):
        return None
    sku_s = sku.strip() if isinstance(sku, str) else str(sku).strip()
    if not sku_s or len(sku_s) > MAX_SKU:
        return None
    if location is None:
        return sku_s, DEFAULT_LOCATION
    if isinstance(location, bool | dict | list):
        return None
    if isinstance(location, str):
        return sku_s, location.strip()[:100] or DEFAULT_LOCATION
    return sku_s, str(location)[:100]


def _price(value: Any) -> str | None:
    """A price's text when it is a finite number >= 0 (JSON numbers come as Decimal)."""
    if isinstance(value, bool | dict | list | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    return str(number)


def stage(
    path: Path,
    fmt: FeedFormat,
    *,
    name: str,
    max_bad_share: float,
    zero_missing: bool,
    produced_at: datetime | None = None,
    on_accepted: Callable[[], None] = lambda: None,
    on_rejected: Callable[[], None] = lambda: None,
) -> StagedSnapshot:
    """Read, validate and stage the file at ``path``. The snapshot comes back with
    ``rejection`` set when the file is unreadable or has too many bad rows; the caller
    closes it either way.
    """
    snapshot = StagedSnapshot(
        name,
        Path(tempfile.mkdtemp(prefix="stockbridge-feed-")),
        zero_missing=zero_missing,
        produced_at=produced_at,
        on_accepted=on_accepted,
        on_rejected=on_rejected,
    )
    try:
        snapshot._load(read_records(path, fmt))
    except Unreadable as exc:
        snapshot.rejection = f"{name} rejected: {exc}; nothing applied"
        return snapshot
    except BaseException:
        snapshot.close()
        raise
    snapshot._judge(max_bad_share)
    return snapshot
