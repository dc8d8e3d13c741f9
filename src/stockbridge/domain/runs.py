"""A sync run as the run lifecycle sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stockbridge.domain.model import RunStatus, Step, Trigger

__all__ = ["RunRecord"]


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
