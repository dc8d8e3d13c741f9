"""A merchant's terminal shows Stockbridge's own lines only: no third-party warnings.

cryptography 51 made asyncssh print ten DSA deprecation warnings on every command, and a fresh
install picked it up (issue #34); these run the real entry point as a merchant would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_cli import sb


def test_help_prints_nothing_on_stderr(tmp_path: Path) -> None:
    result = sb(tmp_path / "home", "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout
    assert result.stderr == ""


def test_a_failing_command_prints_its_own_line_only(tmp_path: Path) -> None:
    result = sb(tmp_path / "home", "status")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: the hub is not initialised: run `stockbridge init` first"
    ]


def test_the_sftp_modules_import_without_any_warning() -> None:
    # -W error turns any warning raised while importing into a failure, whatever the filters
    # of the process that runs the tests.
    modules = ("sftp", "sftp_orders", "source_sftp")
    code = "; ".join(f"import stockbridge.connectors.feed.{name}" for name in modules)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
