"""Mutation testing of whole modules with mutmut: every operator, constant and condition of
the modules in ``tools/mutation_map.toml`` changed one at a time, chosen by the tool, not
by the authors of the code and tests.

``./dev mutants [GROUP ...]`` copies the tree to a scratch folder per group (the working
tree is never touched), writes mutmut's settings there (the group's modules, its test
files) and runs ``mutmut run``: the group's tests run once with every function traced, then
each mutant runs only the tests that reached its function. It prints per module the
mutants, killed, survived, timed out and reached by no test, and each survivor's diff;
``--report FILE`` writes the same as Markdown. Exit 0 when no mutant survived.

The named rules (``tools/mutations.toml``, each a rule broken by hand) are the fast subset:
``./dev mutants --rules [NAME ...]`` (``tools/mutants.py``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Group", "load_groups", "main"]

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "tools" / "mutation_map.toml"
_COPIED = ("src", "tests", "pyproject.toml")
_RESULT = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+):\s*(?P<status>.+?)\s*$")
_KILLED = {"killed", "timeout"}
#: pytest's arguments in every mutant's run: stop at the first failure.
_PYTEST_ARGS = ["-p", "no:cacheprovider", "-x", "-q"]
#: mutmut's statuses as counted here.
COLUMNS = ("killed", "survived", "timeout", "no tests", "other")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    #: More pytest arguments for this group (e.g. ``-m "not postgres"`` where the modules
    #: hold no SQL and SQLite reaches the same code).
    pytest_args: tuple[str, ...] = ()


@dataclass
class ModuleScore:
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def score(self) -> float:
        killed = self.counts["killed"] + self.counts["timeout"]
        return killed / self.total if self.total else 1.0


def load_groups(path: Path = MAP) -> list[Group]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Group(g["name"], tuple(g["modules"]), tuple(g["tests"]), tuple(g.get("pytest_args", ())))
        for g in data["group"]
    ]


def _settings(group: Group) -> str:
    tests = [t for t in group.tests if (ROOT / t).exists()]
    modules = [f"src/stockbridge/{m}" for m in group.modules]

    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"only_mutate = {toml_list(modules)}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        f"pytest_add_cli_args = {toml_list(_PYTEST_ARGS + list(group.pytest_args))}\n"
    )


def _copy_tree(into: Path, group: Group) -> None:
    for name in _COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, into / name)
    with (into / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(_settings(group))


def _mutmut(
    tree: Path, *args: str, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _module_of(mutant: str) -> str:
    """``stockbridge.domain.inventory.x_plan__mutmut_3`` -> ``stockbridge.domain.inventory``
    (a method's mutant names its class too: ``...inventory.xǁCls...``)."""
    head = mutant.split("__mutmut_")[0]
    parts = head.split(".")
    while parts and (parts[-1].startswith("x_") or parts[-1].startswith("xǁ")):
        parts.pop()
    return ".".join(parts)


def run_group(group: Group, children: int, scratch: Path) -> tuple[dict[str, ModuleScore], str]:
    tree = scratch / group.name
    tree.mkdir()
    _copy_tree(tree, group)
    started = time.monotonic()
    done = _mutmut(tree, "run", "--max-children", str(children))
    took = time.monotonic() - started
    results = _mutmut(tree, "results", "--all", "true")
    scores: dict[str, ModuleScore] = {}
    for line in results.stdout.splitlines():
        match = _RESULT.match(line)
        if not match:
            continue
        name, status = match["name"], match["status"]
        column = status if status in COLUMNS else "other"
        score = scores.setdefault(_module_of(name), ModuleScore())
        score.counts[column] += 1
        if column in ("survived", "no tests", "other"):
            shown = _mutmut(tree, "show", name).stdout.strip()
            score.survivors.append(f"{name} ({status})\n{shown}")
    note = f"{group.name}: mutmut exit {done.returncode}, {took:.0f} s"
    if not scores:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        note += " -- no results:\n" + "\n".join(tail)
    return scores, note


def _report(scores: dict[str, ModuleScore], notes: list[str]) -> str:
    lines = ["| module | mutants | " + " | ".join(COLUMNS) + " | score |", "|---" * 8 + "|"]
    for module, s in sorted(scores.items()):
        cells = " | ".join(str(s.counts[c]) for c in COLUMNS)
        lines.append(f"| `{module}` | {s.total} | {cells} | {s.score:.0%} |")
    lines += ["", *notes, ""]
    for module, s in sorted(scores.items()):
        for survivor in s.survivors:
            lines += [f"### {module}", "```diff", survivor, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev mutants", description=__doc__)
    parser.add_argument("groups", nargs="*", help="run only these groups (default: all)")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run at once")
    parser.add_argument("--report", type=Path, help="also write the results as Markdown")
    args = parser.parse_args(argv)
    groups = load_groups()
    if args.list:
        for g in groups:
            print(f"{g.name}: {', '.join(g.modules)} <- {', '.join(g.tests)}")
        return 0
    if args.groups:
        unknown = set(args.groups) - {g.name for g in groups}
        if unknown:
            print(f"unknown groups: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        groups = [g for g in groups if g.name in args.groups]
    if args.max_children < 1:
        print("--max-children must be 1 or more", file=sys.stderr)
        return 2
    scores: dict[str, ModuleScore] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sb-mutmut-") as scratch:
        for group in groups:
            found, note = run_group(group, args.max_children, Path(scratch))
            scores.update(found)
            notes.append(note)
            print(note, flush=True)
    text = _report(scores, notes)
    print(text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    survived = sum(s.counts["survived"] + s.counts["no tests"] for s in scores.values())
    return 1 if survived or not scores else 0


if __name__ == "__main__":
    sys.exit(main())
