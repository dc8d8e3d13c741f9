"""Every benchmark checks its own result: a figure from a run that lost, doubled or
skipped work is no figure. ``Checks`` collects what a bench expects, prints each
outcome, and gives the exit code (1 when any expectation failed)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Checks"]


@dataclass
class Checks:
    bench: str
    failures: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> bool:
        """Record ``what`` (a sentence stating the expectation, with the figures seen)."""
        (self.passed if ok else self.failures).append(what)
        return ok

    def equal(self, seen: object, expected: object, what: str) -> bool:
        if seen == expected:
            return self.expect(True, f"{what}: {seen!r}")
        return self.expect(False, f"{what}: {seen!r}, expected {expected!r}")

    def exit_code(self) -> int:
        """Print the outcome; 0 when every expectation held, else 1."""
        for what in self.failures:
            print(f"  CHECK FAILED: {what}")
        if self.failures:
            print(f"{self.bench}: {len(self.failures)} check(s) FAILED; the figures above are void")
            return 1
        print(f"  checks passed ({len(self.passed)}):")
        for what in self.passed:
            print(f"    ok  {what}")
        return 0
