"""How stockbridge's modules import each other: no cycles, and what ``stockbridge serve``
and the command line load (never a partner's sandbox).

The import graph is read from the source (every ``import`` at any depth: a deferred
import inside a function is still a dependency), leaving out imports made only for type
checking (``if TYPE_CHECKING:``), which never run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from typer.testing import CliRunner

from stockbridge.bootstrap import bootstrap, default_registry
from stockbridge.cli import build_app
from stockbridge.connectors import qbo
from stockbridge.connectors.registry import ConnectorRegistry

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "stockbridge").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def import_graph() -> dict[str, set[str]]:
    """module -> the stockbridge modules it imports (``from a import b`` names module
    ``a.b`` when that is a module, else ``a``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in modules:
                        graph[name].add(target)
                    elif base in modules:
                        graph[name].add(base)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), plus any
    module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["e"]]


def test_no_stockbridge_module_imports_itself_back() -> None:
    graph = import_graph()
    assert "stockbridge.db.uow" in graph["stockbridge.bootstrap"]  # the graph is read at all
    assert cycles(graph) == []


def _loaded_after(code: str) -> list[str]:
    """The stockbridge modules a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"import json, sys\n{code}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('stockbridge'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_the_command_line_and_serve_load_no_sandbox() -> None:
    loaded = _loaded_after(
        "from stockbridge.cli import build_app\n"
        "from stockbridge.bootstrap import bootstrap\n"
        "import typer\n"
        "app = typer.main.get_command(build_app(bootstrap))\n"
        "for group in ('connect', 'sandbox'):\n"  # asked for: every connector's commands
        "    app.get_command(None, group).list_commands(None)\n"
        "import stockbridge.runtime, stockbridge.logs\n"  # what serve adds
    )
    assert "stockbridge.connectors.qbo.cli" in loaded  # the connectors' commands are there
    assert "stockbridge.runtime" in loaded
    assert [m for m in loaded if "sandbox" in m or m == "stockbridge.demo"] == []
    # The embedded mode never needs the scaled extra (procrastinate) at import time.
    assert "stockbridge.jobs.scaled" not in loaded


def test_connect_offers_the_registered_connectors() -> None:
    only_qbo = ConnectorRegistry()
    only_qbo.register(qbo.KIND, qbo.make_back_office, commands=default_registry().commands["qbo"])
    runner = CliRunner()
    full = runner.invoke(build_app(bootstrap), ["connect", "--help"]).output
    assert all(kind in full for kind in ("bigcommerce", "qbo", "feed"))
    offered = runner.invoke(build_app(bootstrap, only_qbo), ["connect", "--help"])
    assert offered.exit_code == 0
    assert "qbo" in offered.output
    assert "bigcommerce" not in offered.output and "feed" not in offered.output
