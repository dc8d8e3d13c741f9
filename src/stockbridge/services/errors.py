"""What a use case refuses with; entry points map these to exit codes and statuses.

- ``StoreNotFound``: no such store (or, with no name given, none or several to choose
  from). CLI exit code 2, HTTP 404.
- ``InvalidSetting``: input that fails a check; nothing was saved. Exit code 2, HTTP 422.
- ``DuplicateStore``: a store by that name exists already. Exit code 2.
- ``ConnectFailed``: the partner refused the credentials or could not be reached;
  nothing was saved. Exit code 1.
"""

from __future__ import annotations

from stockbridge.db.stores import DuplicateStore

__all__ = ["ConnectFailed", "DuplicateStore", "InvalidSetting", "StoreNotFound"]


class StoreNotFound(LookupError):
    pass


class InvalidSetting(ValueError):
    pass


class ConnectFailed(RuntimeError):
    """The partner refused the credentials or could not be reached; nothing was saved."""
