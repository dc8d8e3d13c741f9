"""asyncssh, imported without its deprecation noise, and only when SFTP is used.

asyncssh names DSA key types in its signatures, and cryptography (from 51) warns about DSA
whenever those names are touched: ten `CryptographyDeprecationWarning` lines at import time,
on every command's stderr. Stockbridge never offers or accepts DSA keys (OpenSSH dropped them),
so those warnings, raised while asyncssh is imported, are dropped here and nowhere else: every
module of Stockbridge takes asyncssh from this one.

``asyncssh`` here is a stand-in that imports the real module on first use (an attribute
asked for): importing a feed connector, or starting the command line, does not load
asyncssh (about 0.3 s and 17 MB); an SFTP source does, when it connects.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

__all__ = ["asyncssh", "load"]


_loaded: list[ModuleType] = []


def load() -> ModuleType:
    """The real asyncssh, imported (once) with its DSA warnings dropped."""
    if not _loaded:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"DSA is deprecated", module=r"asyncssh(\.|$)"
            )
            _loaded.append(importlib.import_module("asyncssh"))
    return _loaded[0]


class _OnFirstUse:
    def __getattr__(self, name: str) -> Any:
        return getattr(load(), name)


if TYPE_CHECKING:
    import asyncssh
else:
    asyncssh = _OnFirstUse()
