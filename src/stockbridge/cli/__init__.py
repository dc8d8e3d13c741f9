"""The ``stockbridge`` command line. Commands parse input, call a use case in
``stockbridge.services`` and map its errors to a one-line message and an exit code:
0 success, 1 a run with item errors or a failed run, 2 usage errors and unknown stores.

- ``app``       builds the application: the command modules below, then each connector's
                ``connect``/``sandbox`` commands from the connector registry
- ``common``    what every command module (and ``connectors/*/cli.py``) shares: hub
                loading, errors -> exit codes, JSON output, common options
- ``reports``   a run carried out here: progress bars and its report
- ``init``, ``store``, ``runs`` (sync, runs, status), ``schedule``, ``users``, ``tokens``,
  ``serve``, ``demo``: one module per command or group
"""

from __future__ import annotations

from stockbridge.cli.app import build_app, main

__all__ = ["build_app", "main"]
