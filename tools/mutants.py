"""Named one-line mutations of the correctness rules, each of which some test must kill.

``./dev mutants [NAME ...]`` copies the tree to a scratch folder once per mutation, applies
the mutation there (never to the working tree), runs only the tests that guard the rule and
reports KILLED (the tests failed, as they must) or SURVIVED (a rule can break unnoticed).
Exit code 0 only when every mutation was killed and the unmutated tests pass.

A mutation names its file, an exact snippet that must occur there exactly once and its
replacement; a snippet that no longer matches is reported STALE (exit 1), so the list cannot
silently rot when the code moves. The list lives in ``tools/mutations.toml``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mutation", "load_mutations", "main"]

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT / "tools" / "mutations.toml"
_COPIED = ("src", "tests", "pyproject.toml")


@dataclass(frozen=True, slots=True)
class Mutation:
    """One rule broken on purpose: ``old`` becomes ``new`` in ``file``; ``tests`` must fail."""

    name: str
    rule: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


def load_mutations(path: Path = LIST) -> list[Mutation]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Mutation(
            name=entry["name"],
            rule=entry["rule"],
            file=entry["file"],
            old=entry["old"],
            new=entry["new"],
            tests=tuple(entry["tests"]),
        )
        for entry in data["mutation"]
    ]


def _copy_tree(into: Path) -> None:
    for name in _COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, into / name)


def _pytest(tree: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(
            command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return -1, "timed out (counted as killed: the mutation hung the guarding tests)"
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    return done.returncode, tail[0]


def _check_applies(mutation: Mutation) -> str | None:
    text = (ROOT / mutation.file).read_text(encoding="utf-8")
    count = text.count(mutation.old)
    if count != 1:
        return f"snippet found {count} times in {mutation.file}"
    return None


def run(mutations: list[Mutation], timeout: float) -> int:
    failures = 0
    with tempfile.TemporaryDirectory(prefix="sb-mutants-") as scratch:
        base = Path(scratch) / "base"
        base.mkdir()
        _copy_tree(base)
        guarded = tuple(sorted({t for m in mutations for t in m.tests}))
        code, tail = _pytest(base, guarded, timeout)
        print(f"unmutated: {'PASS' if code == 0 else 'FAIL'} ({tail})")
        if code != 0:
            print("the unmutated tests fail: fix them before judging mutations")
            return 1
        for mutation in mutations:
            stale = _check_applies(mutation)
            if stale:
                print(f"STALE    {mutation.name}: {stale}")
                failures += 1
                continue
            tree = Path(scratch) / mutation.name
            tree.mkdir()
            _copy_tree(tree)
            target = tree / mutation.file
            target.write_text(
                target.read_text(encoding="utf-8").replace(mutation.old, mutation.new),
                encoding="utf-8",
            )
            started = time.monotonic()
            code, tail = _pytest(tree, mutation.tests, timeout)
            took = time.monotonic() - started
            verdict = "KILLED  " if code != 0 else "SURVIVED"
            if code == 0:
                failures += 1
            print(f"{verdict} {mutation.name} ({took:.0f} s; {', '.join(mutation.tests)}): {tail}")
            shutil.rmtree(tree)
    print(f"{len(mutations) - failures} of {len(mutations)} mutations killed")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per test run")
    args = parser.parse_args(argv)
    mutations = load_mutations()
    if args.list:
        for m in mutations:
            print(f"{m.name}: {m.rule} [{m.file}] -> {', '.join(m.tests)}")
        return 0
    if args.names:
        unknown = set(args.names) - {m.name for m in mutations}
        if unknown:
            print(f"unknown mutations: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutations = [m for m in mutations if m.name in args.names]
    return run(mutations, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
