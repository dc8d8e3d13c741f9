"""Reading a feed file as a stream of raw records: CSV or JSON, never the whole file at once.

A record is ``(line, sku, quantity, location, price, name)``: the CSV line on which the
row ends (1-based, the header is line 1) or the JSON array element's position (1-based),
then the raw values of the five columns the hub reads (None where the feed has no such
column or value). A row that cannot even be split into those comes as a ``BadRecord``.
Checking the values is ``snapshot``'s job; here only whole-file problems are raised, as
``Unreadable`` (a truncated file, a broken quote, bad JSON, a missing required column).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson

__all__ = ["BadRecord", "FeedFormat", "RawRecord", "Unreadable", "read_records"]

#: (line or position, sku, quantity, location, price, name); values are str for CSV and
#: whatever JSON holds (str, int, Decimal, ...) for JSON.
RawRecord = tuple[int, Any, Any, Any, Any, Any]

ENCODINGS = ("auto", "utf-8", "latin-1")


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record with the wrong shape (too few fields, not an object). ``sku`` and
    ``location`` are the raw values where the row still has them: the snapshot then
    leaves that SKU as it is rather than call it missing."""

    line: int
    reason: str
    sku: object = None
    location: object = None


class Unreadable(ValueError):
    """The file as a whole cannot be read: it is rejected and nothing is applied."""


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """How a connection's feed files are laid out (the connection's settings)."""

    kind: str = "csv"  # csv | json
    delimiter: str = ","
    header: bool = True  # without one, columns are 1-based positions ("1", "2", ...)
    encoding: str = "auto"  # auto: a BOM means UTF-8; valid UTF-8 is UTF-8; else Latin-1
    json_path: str = ""  # dotted path to the array inside a JSON object ("" = top level)
    sku_field: str = "sku"
    quantity_field: str = "quantity"
    location_field: str | None = "location"
    price_field: str | None = "price"
    name_field: str | None = "name"

    def __post_init__(self) -> None:
        if self.kind not in ("csv", "json"):
            raise ValueError("format must be csv or json")
        if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
            raise ValueError("the delimiter must be one character (not a quote or newline)")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
        if not self.sku_field or not self.quantity_field:
            raise ValueError("the SKU and quantity fields need names")
        if not self.header and self.kind == "csv":
            for name in self.fields():
                if name is not None and not (name.isascii() and name.isdigit() and int(name) > 0):
                    raise ValueError(
                        f"without a header row, columns are positions (1, 2, ...), not {name!r}"
                    )

    def fields(self) -> tuple[str, str, str | None, str | None, str | None]:
        return (
            self.sku_field,
            self.quantity_field,
            self.location_field or None,
            self.price_field or None,
            self.name_field or None,
        )


def read_records(path: Path, fmt: FeedFormat) -> Iterator[RawRecord | BadRecord]:
    """Stream the records of the file at ``path`` (see the module docstring)."""
    if fmt.kind == "json":
        return _json_records(path, fmt)
    return _csv_records(path, fmt)


# CSV ---------------------------------------------------------------------------


def _encoding(path: Path, wanted: str) -> str:
    """The file's encoding: a BOM says UTF-8; otherwise UTF-8 when every byte decodes as
    UTF-8 (checked in chunks, memory flat), else Latin-1 (which decodes any byte)."""
    if wanted == "latin-1":
        return "latin-1"
    with path.open("rb") as raw:
        if raw.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        if wanted == "utf-8":
            return "utf-8"
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as raw:
        raw.seek(0, io.SEEK_END)
        if raw.tell() == 0:
            return True
        raw.seek(-1, io.SEEK_END)
        return raw.read(1) in (b"\n", b"\r")


def _csv_records(path: Path, fmt: FeedFormat) -> Iterator[RawRecord | BadRecord]:
    encoding = _encoding(path, fmt.encoding)
    complete = _ends_with_newline(path)
    with path.open("r", encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=fmt.delimiter, strict=True)
        try:
            if fmt.header:
                header = next(reader, None)
                if header is None:
                    raise Unreadable("the file is empty (no header row)")
                columns = {name.strip().lower(): i for i, name in enumerate(header)}
                width = len(header)
                indexes = [_column(columns, name, i < 2) for i, name in enumerate(fmt.fields())]
            else:
                indexes = [None if n is None else int(n) - 1 for n in fmt.fields()]
                width = 0
            yield from _csv_rows(reader, indexes, width, complete)
        except csv.Error as exc:
            raise Unreadable(f"line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise Unreadable(f"not {encoding} text: {exc.reason} at byte {exc.start}") from None


def _column(columns: dict[str, int], name: str | None, required: bool) -> int | None:
    if name is None:
        return None
    index = columns.get(name.strip().lower())
    if index is None and required:
        known = ", ".join(columns) or "none"
        raise Unreadable(f"no {name!r} column in the header row (columns: {known})")
    return index


def _csv_rows(
    reader: Any, indexes: list[int | None], width: int, complete: bool
) -> Iterator[RawRecord | BadRecord]:
    """Rows as records. A row may stop before optional columns at its end (they read as
    None), but it must reach the SKU and quantity and not run past the header's width."""
    sku_i, qty_i, loc_i, price_i, name_i = indexes
    assert sku_i is not None and qty_i is not None
    needed = 1 + max(sku_i, qty_i)
    pending: RawRecord | BadRecord | None = None
    for row in reader:
        if pending is not None:
            yield pending
            pending = None
        n = len(row)
        if n == 0 or (n == 1 and not row[0].strip() and needed > 1):
            continue  # blank line
        line = reader.line_num
        if n < needed or (width and n > width):
            # Bad on its own, or the sign of a cut-off file if it is the last row and the
            # file does not end with a line break.
            expected = f"{needed} to {width}" if width and width > needed else str(needed)
            pending = BadRecord(
                line,
                f"expected {expected} fields, found {n}",
                row[sku_i] if sku_i < n else None,
                None if loc_i is None or loc_i >= n else row[loc_i],
            )
            continue
        pending = (
            line,
            row[sku_i],
            row[qty_i],
            None if loc_i is None or loc_i >= n else row[loc_i],
            None if price_i is None or price_i >= n else row[price_i],
            None if name_i is None or name_i >= n else row[name_i],
        )
    if pending is not None:
        if isinstance(pending, BadRecord) and not complete:
            raise Unreadable(
                f"line {pending.line}: the file ends mid-row (truncated: {pending.reason}, "
                "no final line break)"
            )
        yield pending


# JSON --------------------------------------------------------------------------


def _json_records(path: Path, fmt: FeedFormat) -> Iterator[RawRecord | BadRecord]:
    prefix = f"{fmt.json_path}.item" if fmt.json_path else "item"
    sku_f, qty_f, loc_f, price_f, name_f = fmt.fields()
    found = False
    with path.open("rb") as raw:
        stream: BinaryIO = raw
        if raw.read(3) != codecs.BOM_UTF8:
            raw.seek(0)
        try:
            for position, record in enumerate(ijson.items(stream, prefix, use_float=False), 1):
                found = True
                if not isinstance(record, dict):
                    yield BadRecord(position, "not an object")
                    continue
                yield (
                    position,
                    record.get(sku_f),
                    record.get(qty_f),
                    None if loc_f is None else record.get(loc_f),
                    None if price_f is None else record.get(price_f),
                    None if name_f is None else record.get(name_f),
                )
        except ijson.JSONError as exc:
            raise Unreadable(f"not valid JSON (truncated or malformed): {exc}") from None
        except UnicodeDecodeError as exc:
            raise Unreadable(f"not UTF-8 JSON: {exc.reason}") from None
    if not found and not _has_empty_array(path, fmt.json_path):
        where = f"at {fmt.json_path!r}" if fmt.json_path else "at the top level"
        raise Unreadable(f"no array of records {where}")


def _has_empty_array(path: Path, json_path: str) -> bool:
    """Whether the (record-less) file holds an empty array where records belong."""
    with path.open("rb") as raw:
        if raw.read(3) != codecs.BOM_UTF8:
            raw.seek(0)
        try:
            for prefix, event, _value in ijson.parse(raw):
                if prefix == json_path and event == "start_array":
                    return True
        except ijson.JSONError:
            return False
    return False
