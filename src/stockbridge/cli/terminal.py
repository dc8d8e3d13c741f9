"""What reaches the operator's terminal: partner data (SKUs, names, partner messages)
may carry control characters and escape sequences (ESC ] sets the window title or the
clipboard, ESC [ moves the cursor over earlier lines). Every command prints through
these: ``echo`` (typer's), ``Console`` (Rich's, for its ``print``) and ``Table`` (Rich's,
for its cells) drop C0 and C1 control characters (tab and newline kept) from the text
they are given, so a sequence arrives as inert printable text. Rich's own styling is
added after that and stays.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table as RichTable

__all__ = ["Console", "Table", "echo", "printable"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without control characters (tab and newline kept)."""
    return _CONTROL.sub("", text)


def _clean(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


def echo(message: Any = None, *, err: bool = False, nl: bool = True) -> None:
    """``typer.echo`` of ``message`` as printable text."""
    typer.echo(None if message is None else printable(str(message)), err=err, nl=nl)


class Console(RichConsole):
    """Rich's console; ``print`` drops control characters from the strings it is given."""

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(_clean(o) for o in objects), **options)


class Table(RichTable):
    """Rich's table; ``add_row`` drops control characters from string cells."""

    def add_row(self, *renderables: Any, **options: Any) -> None:
        super().add_row(*(_clean(r) for r in renderables), **options)
