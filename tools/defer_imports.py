"""Move a command module's heavy imports into the functions that use them (issue 31).

``python tools/defer_imports.py src/stockbridge/cli/runs.py ...`` rewrites each file: every
top-level ``from stockbridge.<heavy> import ...`` (use cases, the hub, the database, sync,
partners) is removed; each function that uses one of its names gets that import as its
first statement (after its docstring); names used only in annotations go under
``if TYPE_CHECKING:``; names used at module level stay where they are. Run ``ruff check
--fix`` and ``ruff format`` after it, then ``tests/test_cli_start.py`` (what ``--help``
and ``status`` import). A helper for merges, not part of the product.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

HEAVY = (
    "stockbridge.services",
    "stockbridge.bootstrap",
    "stockbridge.sync",
    "stockbridge.db",
    "stockbridge.accounts",
    "stockbridge.jsonable",
    "stockbridge.credentials",
    "stockbridge.connectors",
    "stockbridge.demo",
    "stockbridge.config",
    "stockbridge.web",
    "stockbridge.jobs",
    "stockbridge.alerts",
    "stockbridge.alert_channels",
    "stockbridge.runtime",
)
LIGHT = ("stockbridge.connectors.registry", "stockbridge.services.token_limits")
# A name typer reads in a command's annotation must stay importable at module level: take
# MAX_TOKEN_DAYS from stockbridge.services.token_limits (light) before running this.
Funcs = ast.FunctionDef | ast.AsyncFunctionDef


def heavy(module: str | None) -> bool:
    if not module or module in LIGHT:
        return False
    return any(module == h or module.startswith(h + ".") for h in HEAVY)


def names_in(nodes: list[ast.AST]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def body_names(fn: Funcs) -> set[str]:
    """Names the function's body loads (a nested function's decorators and defaults
    count, its body is its own)."""
    found: set[str] = set()
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defaults = [d for d in node.args.kw_defaults if d is not None]
            found |= names_in([*node.decorator_list, *node.args.defaults, *defaults])
            continue
        if isinstance(node, ast.Name):
            found.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return found


def annotation_nodes(fn: Funcs) -> list[ast.AST]:
    args = fn.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    found: list[ast.AST] = [a.annotation for a in every if a is not None and a.annotation]
    return [*found, fn.returns] if fn.returns else found


def rewrite(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    origin: dict[str, tuple[str, str]] = {}  # name -> (module, "name [as alias]")
    moved: list[ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and heavy(node.module):
            moved.append(node)
            for alias in node.names:
                text = alias.name + (f" as {alias.asname}" if alias.asname else "")
                origin[alias.asname or alias.name] = (str(node.module), text)
    if not moved:
        return
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    used: dict[Funcs, set[str]] = {fn: body_names(fn) & set(origin) for fn in functions}
    typed = {name for fn in functions for name in names_in(annotation_nodes(fn)) & set(origin)}
    top = set()
    for node in tree.body:
        if node in moved or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ClassDef):  # its methods' annotations are types only
            parts: list[ast.AST] = [*node.bases, *node.decorator_list]
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    parts += [*item.decorator_list, *item.args.defaults]
                elif isinstance(item, ast.AnnAssign):
                    parts += [item.value] if item.value else []
                else:
                    parts.append(item)
            top |= names_in(parts) & set(origin)
            continue
        top |= names_in([node]) & set(origin)
    for fn in functions:
        if fn in tree.body:
            top |= names_in([*fn.decorator_list, *fn.args.defaults]) & set(origin)

    def statements(names: set[str]) -> list[str]:
        by_module: dict[str, list[str]] = {}
        for name in sorted(names):
            module, text = origin[name]
            by_module.setdefault(module, []).append(text)
        return [f"from {m} import {', '.join(t)}" for m, t in sorted(by_module.items())]

    lines = source.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    for fn, names in used.items():
        names -= top
        if not names:
            continue
        first = fn.body[0]
        documented = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        after = first.end_lineno if documented and first.end_lineno else first.lineno - 1
        indent = " " * (fn.body[1] if documented and len(fn.body) > 1 else first).col_offset
        inserts.append((after, "".join(f"{indent}{s}\n" for s in statements(names)) + "\n"))
    for at, text in sorted(inserts, reverse=True):
        lines.insert(at, text)
    for node in sorted(moved, key=lambda n: -n.lineno):
        del lines[node.lineno - 1 : node.end_lineno]
    kept = "".join(f"{s}\n" for s in statements(top))
    only_typed = typed - top - {n for names in used.values() for n in names}
    if only_typed:
        kept += "\nif TYPE_CHECKING:\n" + "".join(f"    {s}\n" for s in statements(only_typed))
    lines.insert(min(n.lineno for n in moved) - 1, kept)
    result = "".join(lines)
    if only_typed and "TYPE_CHECKING" not in source:
        result = result.replace("from typing import ", "from typing import TYPE_CHECKING, ", 1)
    path.write_text(result)
    print(f"{path}: deferred {sorted(set(origin) - top)}; kept {sorted(top)}")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        rewrite(Path(name))
