"""Every ``stockbridge ...`` command a message, help text or docstring in the code names
is a real command with the options it names: each is run (``--help``, which parses the
command path) and each ``--option`` is looked up on that command. A message telling the
merchant to run a command that does not exist (``store set --deposit-account``) fails."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner

import stockbridge
from stockbridge.cli import build_app

SRC = Path(stockbridge.__file__).parent
MENTION = re.compile(r"stockbridge ([a-z][^`'\"\n;,)]*)")


def _texts(tree: ast.AST) -> Iterator[str]:
    """Every string of a module; an f-string with its holes filled by a placeholder."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield "".join(str(v.value) if isinstance(v, ast.Constant) else "X" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def mentions() -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        for text in _texts(ast.parse(path.read_text())):
            for match in MENTION.finditer(text):
                command = re.sub(r"\s*\|\s*", "|", match.group(1).strip())
                found.add((str(path.relative_to(SRC)), command))
    return sorted(found)


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in param.opts}


def _commands(group: Any) -> dict[str, Any]:
    """A group's commands as click lists them (the partner groups load theirs when asked)."""
    ctx = click.Context(group)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}


def _check(root: Any, words: list[str]) -> list[list[str]]:
    """The command paths ``words`` names (several for ``a|b`` and ``...``); raises
    AssertionError naming what does not exist."""
    paths: list[tuple[list[str], Any]] = [([], root)]
    for word in words:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            assert any(option in _options(cmd) for _p, cmd in paths), (
                f"no option {option} on `stockbridge {' '.join(paths[0][0])}`"
            )
            continue
        groups = [(p, c) for p, c in paths if hasattr(c, "commands")]  # a group of commands
        if not groups:
            continue  # an argument or a placeholder of a command
        following: list[tuple[list[str], Any]] = []
        for path, group in groups:
            if word == "...":
                following += [([*path, n], c) for n, c in _commands(group).items()]
                continue
            for name in word.split("|"):
                if name.isupper() or name == "X":
                    break  # a placeholder where a command would be: stop here
                commands = _commands(group)
                assert name in commands, f"no command `stockbridge {' '.join([*path, name])}`"
                following.append(([*path, name], commands[name]))
        if not following:
            break
        paths = following
    return [p for p, _c in paths]


def test_the_scan_finds_the_messages() -> None:
    found = {command for _where, command in mentions()}
    assert "store books --deposit-account ID" in found  # the refund receipt's message
    assert len(found) > 30


@pytest.mark.parametrize(("where", "command"), mentions())
def test_a_command_named_in_a_message_exists(where: str, command: str) -> None:
    app: typer.Typer = build_app(lambda: pytest.fail("no hub is needed for --help"))
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    try:
        paths = _check(root, command.split())
    except AssertionError as exc:
        raise AssertionError(f"{where} names `stockbridge {command}`: {exc}") from None
    for path in paths:
        ran = CliRunner().invoke(app, [*path, "--help"])
        assert ran.exit_code == 0, (where, path, ran.output)
