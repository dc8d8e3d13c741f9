"""Partner credentials encrypted at rest with a key kept in ``STOCKBRIDGE_HOME``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["CredentialCipher", "CredentialsUnreadable"]


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with this hub's key (key lost or replaced)."""


class CredentialCipher:
    """Encrypts a mapping of secrets to bytes and back (Fernet: AES-128-CBC + HMAC)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_key_file(cls, path: Path) -> CredentialCipher:
        """Load the key, creating it (readable by this user only) on first use."""
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = Fernet.generate_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
        return cls(path.read_bytes().strip())

    def encrypt(self, secrets: Mapping[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(dict(secrets)).encode())

    def decrypt(self, blob: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored partner credentials cannot be decrypted with this hub's key; "
                "connect the partner again"
            ) from None
        return {str(k): str(v) for k, v in data.items()}
