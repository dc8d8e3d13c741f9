"""How long an API token may live: a constant of its own so that the command line's help
text can name it without importing the token use cases (and the hub with them)."""

from __future__ import annotations

__all__ = ["MAX_TOKEN_DAYS"]

MAX_TOKEN_DAYS = 3650
