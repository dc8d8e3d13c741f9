"""A sync run as the run lifecycle sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stockbridge.domain.model import RunStatus, Step, Trigger

__all__ = ["RunRecord", "changed_nothing"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One sync run: what started it, which steps it does, where it stands.

    ``progress`` maps a step's name to its entry (status, done, total, changed, failed,
    message): what a run resumed after a crash reads to skip the steps it finished.
    """

    id: int
    store_id: int
    trigger: Trigger
    steps: tuple[Step, ...]
    status: RunStatus
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: The web products whose stock the run reads (webhook news); None: the whole store.
    targets: tuple[str, ...] | None = None


def changed_nothing(progress: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a run's steps (``RunRecord.progress``), all ended, changed nothing in the
    hub, wrote nothing to a partner and failed nothing: the run says so in words."""
    entries = list(progress.values())
    return bool(entries) and all(
        not e.get("changed")
        and not e.get("written")
        and not e.get("failed")
        and e.get("status") in ("succeeded", "skipped")
        for e in entries
    )
