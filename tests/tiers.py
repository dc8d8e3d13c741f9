"""The test tiers: every test gets exactly one marker, from what it starts.

- ``browser``: its module drives chromium (Playwright);
- ``process``: its module starts other processes (the CLI, ``serve``, workers, kills);
- ``unit``: it starts nothing: every fixture it uses is one of ``PURE`` (or a parameter),
  and neither its body nor a module-level helper it calls names something that starts a
  database, a server or a socket (threads of the code under test are allowed: the runner
  over the in-memory storage keeps its lease on one);
- ``integration``: the rest (a hub database, sandboxes and servers on threads).

``./dev test --quick`` runs ``-m unit``. The classification is checked, not trusted:
``guard_unit`` (autouse in conftest) makes a unit test fail when it opens a database
connection, a socket or a process, so a test that starts something and slipped
into the quick tier fails in ``./dev test`` (and CI) with the reason.
"""

from __future__ import annotations

import ast
import inspect
import socket
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

__all__ = ["TIERS", "classify", "guard_unit"]

TIERS = ("unit", "integration", "process", "browser")

#: Fixtures that start nothing.
PURE = frozenset(
    {
        "request",
        "monkeypatch",
        "capsys",
        "capfd",
        "caplog",
        "recwarn",
        "tmp_path",
        "tmp_path_factory",
        "pytestconfig",
        "record_property",
        "usual_umask",
        "report_totals",
        "mem",  # test_steps: the runner over the in-memory unit of work
        "_unit_starts_nothing",  # conftest: the guard below
    }
)
#: Names in a test's body (or a module helper it calls) that start something.
STARTS = (
    "ServerThread",
    "bootstrap(",
    "make_hub(",
    "make_harness(",
    "create_engine(",
    "new_store(",
    "socket.",
    "TestClient(",
    "httpx.Client(",
    "httpx.get(",
    "httpx.post(",
    "httpx.put(",
    "SqlCycle",
    "DbCycle",
    "sandbox(",
    "Sandbox(",
)
_BROWSER = ("playwright",)
_PROCESS = ("subprocess", "Popen", "multiprocessing", "crash_support", "kill_points", "os.fork")


@cache
def _module_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _source(function: Callable[..., Any]) -> str:
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return ""


def _called_helpers(source: str, module: ModuleType) -> Iterator[str]:
    """The source of each test-support function the test calls by name (its module's own
    or one it imported from another test module)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = getattr(module, node.func.id, None)
            if inspect.isfunction(helper) and helper.__module__.startswith("tests."):
                yield _source(helper)


def _fixtures_pure(item: pytest.Function) -> bool:
    params = getattr(item, "callspec", None)
    given = dict(params.params) if params is not None else {}
    defined = item._fixtureinfo.name2fixturedefs  # pytest's own fixture map (private)
    for name in item.fixturenames:
        if name in PURE:
            continue
        if name in given and name not in defined:
            continue  # a parametrize argument
        if name == "cycle" and given.get("cycle") == "memory":
            continue  # the runner over the in-memory unit of work
        return False
    return True


def classify(item: pytest.Function) -> str:
    """The tier of one collected test (see the module's docstring)."""
    text = _module_text(str(item.path))
    if any(word in text for word in _BROWSER):
        return "browser"
    if any(word in text for word in _PROCESS):
        return "process"
    body = _source(item.function)
    sources = [body, *_called_helpers(body, item.module)]
    if any(word in source for source in sources for word in _PROCESS):
        return "process"
    if not _fixtures_pure(item):
        return "integration"
    if any(word in source for source in sources for word in STARTS):
        return "integration"
    return "unit"


def mark_tiers(items: list[pytest.Item]) -> None:
    """Give each test its tier's marker (a test that carries one explicitly keeps it)."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        if any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        item.add_marker(getattr(pytest.mark, classify(item)))


class StartedSomething(AssertionError):
    """A test in the unit tier opened a database connection, a socket or a process."""


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise StartedSomething(
            f"a unit-tier test opened {what}: it belongs to the integration tier "
            "(add the fixture it needs, or mark it @pytest.mark.integration)"
        )

    return refuse


def guard_unit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For a unit-tier test: no database connection, socket or process."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    monkeypatch.setattr(socket.socket, "connect", _refuse("a socket connection"))
    monkeypatch.setattr(socket.socket, "bind", _refuse("a listening socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("a process"))
    refuse_connection = _refuse("a database connection")
    event.listen(Pool, "connect", refuse_connection)
    try:
        yield
    finally:
        event.remove(Pool, "connect", refuse_connection)
