"""Typed results as plain JSON values: what ``stockbridge ... --json`` prints and the HTTP
API answers, one rule for both.

A dataclass becomes an object of its fields in declared order (a field may name its own
conversion in ``metadata["json"]``), an enum its value, a moment ISO 8601, a Decimal its
exact string, a tuple or list an array, a mapping an object; str, int, float, bool and
None stay as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["JSON_AS", "json_list", "json_object", "jsonable"]

#: ``field(metadata={JSON_AS: convert})``: the field's JSON is ``convert(value)``.
JSON_AS = "json"


def jsonable(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            convert: Callable[[Any], Any] | None = f.metadata.get(JSON_AS)
            out[f.name] = convert(item) if convert is not None else jsonable(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def json_object(value: object) -> dict[str, Any]:
    """One typed result (a dataclass) as a JSON object."""
    out = jsonable(value)
    if not isinstance(out, dict):
        raise TypeError(f"{type(value).__name__} is not a JSON object")
    return out


def json_list(values: Iterable[object]) -> list[dict[str, Any]]:
    """Typed results as a JSON array of objects."""
    return [json_object(v) for v in values]
