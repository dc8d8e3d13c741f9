"""The QuickBooks query language, as far as the sandbox understands it (Intuit's "Query
operations and syntax")::

    SELECT * | count(*) | Field, ... FROM Entity
        [WHERE Field op value [AND ...]]      op: =  <  >  <=  >=  IN (...)
        [ORDERBY Field [ASC|DESC]]            ("ORDER BY" is accepted too)
        [STARTPOSITION n] [MAXRESULTS n]      MAXRESULTS at most 1,000, default 100

Values are quoted with single quotes (``\\'`` escapes one). Whatever columns are
named, every property of each object is returned (as QuickBooks does). A statement it
cannot read is fault 4000 (QueryParserError); MAXRESULTS over 1,000 is fault 4001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from stockbridge.connectors.qbo.sandbox.wire import QboFault

__all__ = ["MAX_RESULTS", "Query", "matches", "parse_query", "sort_rows", "value_at"]

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100

_QUERY = re.compile(
    r"^\s*select\s+(?P<cols>\*|count\(\*\)|[\w.*,\s]+?)\s+from\s+(?P<entity>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s*by\s+(?P<order>[\w.]+)(?:\s+(?P<direction>asc|desc))?)?"
    r"(?:\s+startposition\s+(?P<start>\d+))?"
    r"(?:\s+maxresults\s+(?P<max>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?P<op>=|>=|<=|>|<|\s+in\s+)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'|([\w.:+-]+)")


@dataclass(frozen=True)
class Query:
    count: bool
    entity: str
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]
    start: int
    max_results: int
    order_by: str | None = None
    descending: bool = False


def parser_error(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", detail=f"QueryParserError: {detail}")


def parse_query(text: str) -> Query:
    match = _QUERY.match(text)
    if match is None:
        raise parser_error(f"unsupported statement: {text[:200]}")
    conditions = []
    if match.group("where"):
        for part in re.split(r"\s+and\s+", match.group("where"), flags=re.IGNORECASE):
            cond = _CONDITION.match(part)
            if cond is None:
                raise parser_error(f"bad condition: {part}")
            op = cond.group("op").strip().lower()
            conditions.append((cond.group("field"), op, _literals(cond.group("value"))))
    max_results = int(match.group("max") or DEFAULT_RESULTS)
    if max_results > MAX_RESULTS:
        raise QboFault(
            "4001",
            "Invalid query",
            detail=f"QueryValidationError: value {max_results} for maxResults is out of range",
        )
    start = int(match.group("start") or 1)
    if start < 1:
        raise parser_error("STARTPOSITION starts at 1")
    return Query(
        count=match.group("cols").replace(" ", "").lower() == "count(*)",
        entity=match.group("entity"),
        conditions=tuple(conditions),
        start=start,
        max_results=max_results,
        order_by=match.group("order"),
        descending=(match.group("direction") or "").lower() == "desc",
    )


def _literals(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.startswith("("):
        if not text.endswith(")"):
            raise parser_error(f"unclosed list: {text}")
        parts = [p.strip() for p in _split_list(text[1:-1])]
    else:
        parts = [text]
    values = []
    for part in parts:
        match = _LITERAL.fullmatch(part)
        if match is None:
            raise parser_error(f"bad value: {part}")
        quoted = match.group(1)
        values.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(2))
    return tuple(values)


def _split_list(text: str) -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == "'":
            current.append(char)
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def value_at(row: dict[str, Any], field: str) -> Any:
    """``row["A"]["B"]`` for ``"A.B"``; None when any step is missing. An e-mail address
    object (``PrimaryEmailAddr``) stands for its ``Address``, as queries compare it."""
    value: Any = row
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict) and set(value) == {"Address"}:
        return value["Address"]
    return value


def matches(row: dict[str, Any], field: str, op: str, values: tuple[str, ...]) -> bool:
    actual = value_at(row, field)
    if actual is None:
        return False
    if isinstance(actual, bool):
        actual = "true" if actual else "false"
    if op in ("=", "in"):
        return str(actual) in values
    left, right = str(actual), values[0]
    if field.endswith("Time"):
        left_t, right_t = datetime.fromisoformat(left), datetime.fromisoformat(right)
        return {">": left_t > right_t, "<": left_t < right_t, ">=": left_t >= right_t}.get(
            op, left_t <= right_t
        )
    return {">": left > right, "<": left < right, ">=": left >= right}.get(op, left <= right)


def sort_rows(rows: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """Rows in the ORDERBY order (objects without the field last), else as stored."""
    if query.order_by is None:
        return rows
    field = query.order_by

    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        value = value_at(row, field)
        if isinstance(value, str) and field.endswith("Time"):
            return (False, datetime.fromisoformat(value))
        if isinstance(value, int | float | Decimal):
            return (False, value)
        return (value is None, str(value or ""))

    return sorted(rows, key=key, reverse=query.descending)
