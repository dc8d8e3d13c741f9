"""Peak resident memory of this process, and (on Linux) of a stretch of it."""

from __future__ import annotations

import resource
from pathlib import Path

__all__ = ["peak_mb", "reset_peak", "window_peak_mb"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_mb() -> float:
    """The process's peak RSS since it started (``ru_maxrss``), in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def reset_peak() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM to the current RSS);
    False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def window_peak_mb() -> float | None:
    """Peak RSS since the last ``reset_peak`` (VmHWM), in MB; None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
