"""The command line starts at once: ``stockbridge --help`` imports none of the hub's heavy
dependencies, and ``stockbridge status`` only what reading the database needs. Counted in
modules, not timed: each command runs in a fresh interpreter, which then lists what it
imported (the figures are in BENCHMARKS.md, "Command line start")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: What a command's interpreter reports having imported, of the modules that make start-up
#: slow (SQLAlchemy, the web app, asyncssh, the partners, the alert channels, the hub).
WATCHED = (
    "sqlalchemy",
    "asyncssh",
    "fastapi",
    "starlette",
    "procrastinate",
    "lxml",
    "stockbridge.bootstrap",
    "stockbridge.alerts",
    "stockbridge.alert_channels",
    "stockbridge.web",
    "stockbridge.connectors.bigcommerce",
    "stockbridge.connectors.qbo",
    "stockbridge.connectors.qbwc",
    "stockbridge.connectors.feed",
)
RUNNER = """
import json, sys, runpy
sys.argv = ["stockbridge", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("stockbridge.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code
watched = %r
print(json.dumps({"code": code, "imported": sorted(m for m in watched if m in sys.modules)}),
      file=sys.stderr)
"""


def imported_by(home: Path, *args: str) -> tuple[int, set[str], str]:
    """Run ``stockbridge ARGS`` in a new interpreter: its exit code, the watched modules
    it imported, and its standard error (less the runner's own line)."""
    done = subprocess.run(
        [sys.executable, "-c", RUNNER % (WATCHED,), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "STOCKBRIDGE_HOME": str(home)},
        timeout=120,
    )
    *rest, last = done.stderr.strip().splitlines()
    report = json.loads(last)
    return int(report["code"] or 0), set(report["imported"]), "\n".join(rest)


def test_help_imports_none_of_the_hub(tmp_path: Path) -> None:
    code, imported, stderr = imported_by(tmp_path, "--help")
    assert code == 0
    assert imported == set()
    assert stderr == ""


def test_status_imports_the_database_but_no_partner_web_app_or_ssh(tmp_path: Path) -> None:
    assert imported_by(tmp_path, "init")[0] == 0
    code, imported, stderr = imported_by(tmp_path, "status")
    assert code == 0
    assert imported == {"sqlalchemy", "stockbridge.bootstrap"}
    assert stderr == ""


@pytest.mark.parametrize("group", ["connect", "sandbox"])
def test_partner_groups_list_every_connector_when_asked_without_ssh(
    tmp_path: Path, group: str
) -> None:
    """The partners' commands load when their group is asked for; asyncssh still waits
    for an SFTP feed to be used."""
    code, imported, _ = imported_by(tmp_path, group, "--help")
    assert code == 0
    assert "stockbridge.connectors.qbo" in imported
    assert "asyncssh" not in imported
    done = subprocess.run(
        [sys.executable, "-m", "stockbridge.cli", group, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "STOCKBRIDGE_HOME": str(tmp_path), "COLUMNS": "200"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for kind in ("bigcommerce", "qbo"):
        assert kind in done.stdout
