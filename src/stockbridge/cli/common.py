"""What every command module shares, the connectors' ones (``connectors/*/cli.py``)
included: loading the hub, mapping a use case's errors to a one-line message and an exit
code, printing JSON, the common options, and what a connector's commands are given.

Exit codes: 0 success, 1 a run with item errors or a failed run (also a partner that
refused or could not be reached), 2 usage errors and unknown stores.

This module imports no command module, so any of them (and any connector's) can import it.
It imports nothing of the hub either (no SQLAlchemy, no partner, no service) so that
``stockbridge --help`` starts at once: command modules import their use cases inside the
commands (``tests/test_cli_start.py`` holds that).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from stockbridge.cli.terminal import Console, echo

if TYPE_CHECKING:
    from stockbridge.bootstrap import Hub

__all__ = [
    "USAGE",
    "HubLoader",
    "JsonOption",
    "PartnerCommands",
    "StoreOption",
    "echo",
    "fail",
    "mapped_errors",
    "on_command_line",
    "print_json",
    "secret_value",
]

USAGE = 2

StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store name; optional when only one exists.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

err = Console(stderr=True)


def fail(message: str, code: int = USAGE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Turn the use cases' errors into ``fail``: refused input and unknown stores exit 2,
    what went wrong beyond the command line (unreadable credentials, a partner that
    refused, a run that timed out) exits 1."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as exc:
        code = _exit_code(exc)
        if code is None:
            raise  # not a use case's error: nothing to map
        fail(str(exc), code)


def _exit_code(exc: Exception) -> int | None:
    """The exit code of a use case's error (None: not one of them). The error classes are
    imported here, once something failed: they bring the hub's modules with them."""
    from stockbridge.bootstrap import NotInitialised
    from stockbridge.credentials import CredentialsUnreadable
    from stockbridge.services.errors import (
        ConnectFailed,
        DuplicateStore,
        InvalidSetting,
        StoreNotFound,
    )
    from stockbridge.sync.runner import RunTimeout

    if isinstance(exc, StoreNotFound | InvalidSetting | DuplicateStore | NotInitialised):
        return USAGE
    if isinstance(exc, CredentialsUnreadable | RunTimeout | ConnectFailed):
        return 1
    return None


def print_json(value: object) -> None:
    """A typed result (or plain JSON values) as indented JSON on stdout."""
    from stockbridge.jsonable import jsonable

    echo(json.dumps(jsonable(value), indent=2, default=str))


@dataclass(frozen=True)
class HubLoader:
    """Builds the hub when a command runs (``make``: ``bootstrap``, or a test's hub);
    commands other than ``init`` and ``demo`` need it initialised."""

    make: Callable[[], Hub]

    def __call__(self, *, initialised: bool = True) -> Hub:
        hub = self.make()
        if initialised:
            hub.require_initialised()
        return hub


@dataclass(frozen=True)
class PartnerCommands:
    """What a connector's ``register(commands)`` gets: the ``stockbridge connect`` and
    ``stockbridge sandbox`` groups to add its commands to, and the hub."""

    connect: typer.Typer
    sandbox: typer.Typer
    hub: Callable[[], Hub]


def on_command_line(ctx: typer.Context, param: str) -> bool:
    """Whether ``param`` was given on the command line (not by default or environment)."""
    return getattr(ctx.get_parameter_source(param), "name", None) == "COMMANDLINE"


def secret_value(
    ctx: typer.Context,
    param: str,
    value: str | None,
    *,
    option: str,
    env: str | None,
    from_stdin: bool,
    required: bool = True,
) -> str | None:
    """A secret option's value, kept off the command line: with ``{option}-stdin`` the
    next line of standard input (several such options read one line each, in the order
    the command declares them), else the environment variable ``env`` (declared as the
    option's ``envvar``), else the option itself, which works but warns on stderr (other
    users of the machine see command lines; shells keep them in history)."""
    if from_stdin:
        if on_command_line(ctx, param):
            fail(f"give {option} or {option}-stdin, not both")
        line = sys.stdin.readline()
        if not line.strip():
            fail(f"{option}-stdin: no line on standard input for it")
        return line.rstrip("\r\n")
    if value and on_command_line(ctx, param):
        instead = f"{option}-stdin" + (f" or the environment variable {env}" if env else "")
        err.print(
            f"warning: {option} on the command line is visible to other users (ps) and "
            f"kept in shell history; use {instead}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if value is None and required:
        fail(f"give the secret with {option}-stdin" + (f" (or {env})" if env else ""))
    return value
