"""Test-only launcher: runs the ``stockbridge`` CLI with a kill point at a database commit.

    python tests/crash_hub.py sync all          (or: serve --port N)

It installs SQLAlchemy event listeners (no product code knows about them) that name each
commit by the tables its transaction wrote (``orders+cursors``, ``partner_links``, ...)
and, when armed, kill this process with SIGKILL at the Nth commit of a given name,
``before`` it reaches the database or right ``after`` it did.

Environment:
    CRASH_TRACE    append every commit's name to this file (one a line)
    CRASH_WAIT_GO  import everything, then wait for a line "go" on stdin before running
                   (the suite starts the next round's process while this round runs)
    CRASH_CONTROL  a file holding ``token name ordinal phase``; read again whenever it
                   changes, and counting restarts for each new token (so a long-running
                   ``serve`` can be armed between rounds)
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

WRITE = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE
)


class CommitKiller:
    def __init__(self, trace: Path | None, control: Path | None) -> None:
        self.trace = trace
        self.control = control
        self.lock = threading.Lock()
        self.stamp: tuple[int, int] | None = None
        self.armed: tuple[str, int, str] | None = None
        self.counts: dict[str, int] = {}
        self.after = threading.local()

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self.on_execute)
        event.listen(Engine, "commit", self.on_commit)
        event.listen(Engine, "rollback", self.on_rollback)
        event.listen(Session, "after_commit", self.on_committed)
        # a commit made without a Session: the connection's next use or its return
        event.listen(Engine, "begin", self.on_committed)
        event.listen(Pool, "checkin", self.on_committed)

    def on_execute(
        self, conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kw: Any
    ) -> None:
        match = WRITE.match(statement)
        if match:
            conn.info.setdefault("crash_written", set()).add(match.group(1).lower())

    def on_rollback(self, conn: Connection) -> None:
        conn.info.pop("crash_written", None)

    def on_commit(self, conn: Connection) -> None:
        written = conn.info.pop("crash_written", set())
        if not written:
            return  # a read: not a commit point
        name = "+".join(sorted(written))
        with self.lock:
            if self.trace is not None:
                with self.trace.open("a") as out:
                    out.write(name + "\n")
            self._reload()
            if self.armed is None or self.armed[0] != name:
                return
            self.counts[name] = self.counts.get(name, 0) + 1
            if self.counts[name] != self.armed[1]:
                return
            phase = self.armed[2]
            self.armed = None
        if phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        self.after.pending = True

    def on_committed(self, *_args: Any) -> None:
        if getattr(self.after, "pending", False):
            os.kill(os.getpid(), signal.SIGKILL)

    def _reload(self) -> None:
        if self.control is None:
            return
        try:
            status = self.control.stat()
        except FileNotFoundError:
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self.stamp:
            return
        self.stamp = stamp
        parts = self.control.read_text().split()
        self.counts = {}
        self.armed = None  # a token alone disarms
        if len(parts) == 4:
            _token, name, ordinal, phase = parts
            self.armed = (name, int(ordinal), phase)


def main() -> None:
    trace = os.environ.get("CRASH_TRACE")
    control = os.environ.get("CRASH_CONTROL")
    CommitKiller(Path(trace) if trace else None, Path(control) if control else None).install()
    from stockbridge.cli import main as cli_main

    if os.environ.get("CRASH_WAIT_GO"):  # started ahead of its round: imported, now wait
        import stockbridge.bootstrap  # noqa: F401  (the rest of the start-up cost)

        if sys.stdin.readline().strip() != "go":
            return
    sys.argv = ["stockbridge", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
