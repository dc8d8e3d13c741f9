"""Cutting a stream into the largest batches a partner accepts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

__all__ = ["batched", "calls_needed"]

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """Yield tuples of at most ``size`` items, in order; the last may be shorter."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def calls_needed(count: int, size: int) -> int:
    """The fewest calls that move ``count`` items at ``size`` a call."""
    return -(-count // size) if count > 0 else 0
