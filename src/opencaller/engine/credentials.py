"""Encryption of provider credentials at rest (Fernet), keyed by the server's secret key.

The key comes from ``OPENCALLER_SECRET_KEY``; when it is absent a key is generated once into the data dir, which is
right for a single embedded node. Nodes that share a database must share the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from opencaller.settings import Settings


class CredentialCipher:
    """Encrypts and decrypts JSON credential blobs."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialCipher:
        """Use the configured secret key, or the one kept in the data dir (created on first use)."""
        if settings.secret_key is not None:
            return cls(settings.secret_key.get_secret_value())
        return cls(_data_dir_key(settings.data_dir))

    def encrypt(self, value: dict[str, Any]) -> str:
        """Encrypt a JSON-serialisable dict to an opaque token."""
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        """Decrypt a token made by :meth:`encrypt`; a token made with another key raises ValueError."""
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("stored credentials were encrypted with another secret key") from exc
        return data


def _data_dir_key(data_dir: Path) -> str:
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
    return path.read_text().strip()
