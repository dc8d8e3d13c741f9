"""asyncssh, imported without its deprecation noise.

asyncssh names DSA key types in its signatures, and cryptography (from 51) warns about DSA
whenever those names are touched: ten `CryptographyDeprecationWarning` lines at import time,
on every command's stderr. Stockbridge never offers or accepts DSA keys (OpenSSH dropped them),
so those warnings, raised while asyncssh is imported, are dropped here and nowhere else: every
module of Stockbridge takes asyncssh from this one.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"asyncssh(\.|$)")
    import asyncssh

__all__ = ["asyncssh"]
