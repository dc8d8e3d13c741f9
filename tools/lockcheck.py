"""Fail when pyproject.toml and the lock (requirements/) disagree.

The lock is made by `./dev upgrade` (uv pip compile --universal --generate-hashes). This check
runs offline at the start of `./dev test` and in CI:

- every requirement of pyproject (dependencies and every extra) and of requirements/tools.in is
  pinned in requirements/dev.txt at a version its specifier allows, with at least one hash;
- every requirement of the runtime and its `scaled`/`postgres` extras is pinned in
  requirements/runtime.txt, at the same version as in dev.txt;
- a package pinned twice in one lock has a marker on each pin (a universal lock may pin two
  versions for two ranges of Python versions, never two for the same one).

Exit 0 when they agree; exit 1 with one line per disagreement otherwise.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(;[^\\]*)?")
RUNTIME_EXTRAS = ("scaled", "postgres")


@dataclass
class Pin:
    version: str
    marker: str
    hashes: int = 0


Lock = dict[str, list[Pin]]


def read_lock(path: Path) -> tuple[Lock, list[str]]:
    """The pins of a compiled requirements file, and the names pinned twice without markers."""
    pins: Lock = {}
    twice: list[str] = []
    current: Pin | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            current = Pin(match.group(2), (match.group(3) or "").strip("; "))
            current.hashes = line.count("--hash=")
            earlier = pins.setdefault(name, [])
            if earlier and not (current.marker and all(pin.marker for pin in earlier)):
                twice.append(name)
            earlier.append(current)
        elif line.startswith("--hash=") and current is not None:
            current.hashes += 1
    return pins, twice


def requirements_in(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def check(requirements: list[Requirement], pins: Lock, lock: str) -> list[str]:
    problems = []
    for req in requirements:
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{lock}: {req} is not pinned (run ./dev upgrade)")
        for pin in pins.get(name, []):
            if not req.specifier.contains(Version(pin.version), prereleases=True):
                problems.append(f"{lock}: {name}=={pin.version} does not satisfy {req}")
            elif pin.hashes == 0:
                problems.append(f"{lock}: {name}=={pin.version} has no hash")
    return problems


def versions(pins: list[Pin]) -> set[str]:
    return {pin.version for pin in pins}


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    extras = project.get("optional-dependencies", {})
    every_extra = [Requirement(r) for reqs in extras.values() for r in reqs]
    runtime_extras = [Requirement(r) for name in RUNTIME_EXTRAS for r in extras.get(name, [])]
    tools = requirements_in(ROOT / "requirements" / "tools.in")

    dev, dev_twice = read_lock(ROOT / "requirements" / "dev.txt")
    run, run_twice = read_lock(ROOT / "requirements" / "runtime.txt")
    problems = [
        f"{lock}: {name} is pinned twice"
        for lock, names in (("dev.txt", dev_twice), ("runtime.txt", run_twice))
        for name in names
    ]
    problems += check(runtime + every_extra + tools, dev, "dev.txt")
    problems += check(runtime + runtime_extras, run, "runtime.txt")
    problems += [
        f"{name}: runtime.txt pins {sorted(versions(pins))}, dev.txt {sorted(versions(dev[name]))}"
        for name, pins in run.items()
        if name in dev and versions(dev[name]) != versions(pins)
    ]
    problems += [f"runtime.txt pins {name}, which dev.txt lacks" for name in run if name not in dev]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"lockcheck: {len(problems)} disagreement(s) between pyproject.toml and "
            "requirements/; ./dev upgrade re-resolves the lock",
            file=sys.stderr,
        )
        return 1
    print(
        f"lockcheck: {len(dev)} packages locked for development, {len(run)} for the runtime; "
        "pyproject agrees"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
