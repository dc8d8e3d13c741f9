"""Newest wins: the one rule deciding whether a partner's copy may replace the hub's."""

from __future__ import annotations

from datetime import datetime

__all__ = ["newest_wins"]


def newest_wins(held: datetime | None, incoming: datetime | None) -> bool:
    """Whether a copy modified at ``incoming`` may replace one modified at ``held``.

    A stale copy (older than what the hub holds) never overwrites a newer one; a copy of
    the same age is applied again (harmless, and a re-read after a crash needs it). When
    either side carries no modification time there is nothing to compare: the copy wins.
    """
    return held is None or incoming is None or incoming >= held
