"""Secrets at rest: channel secret fields are Fernet-encrypted in the database.

The key comes from ``HUB_SECRET_KEY`` or from ``secret.key`` in the data dir,
created on first use with mode 0600. Encrypted values are stored as
``{"$enc": "<token>"}`` so a reader can never mistake one for plain text.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from hub.core.exceptions import ConfigError
from hub.store.files import private_dir

KEY_FILE = "secret.key"
MASK = "********"


class SecretBox:
    def __init__(self, key: str | bytes):
        key = key.encode() if isinstance(key, str) else key
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "the secret key is not a valid Fernet key (32 url-safe base64 bytes);"
                " make one with: python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())'"
            ) from exc
        self._key = key

    @classmethod
    def for_data_dir(cls, data_dir: Path, env_key: str | None = None) -> SecretBox:
        if env_key:
            return cls(env_key)
        path = Path(data_dir) / KEY_FILE
        if not path.exists():
            private_dir(path.parent)
            key = Fernet.generate_key()
            # O_EXCL: two processes starting at once must not write two keys.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(key)
                    f.flush()
                    os.fsync(f.fileno())
        return cls(path.read_bytes().strip())

    def derive(self, purpose: str) -> bytes:
        """A key for ``purpose`` (e.g. signing web sessions) derived from the secret key.

        One secret to keep, yet the encryption key itself is never used for
        anything else, and knowing a derived key tells nothing about it.
        """
        return hmac.new(self._key, f"hub:{purpose}".encode(), hashlib.sha256).digest()

    def encrypt(self, value: str) -> dict[str, str]:
        return {"$enc": self._fernet.encrypt(value.encode()).decode()}

    def decrypt(self, stored: object) -> str:
        if isinstance(stored, dict) and "$enc" in stored:
            try:
                return self._fernet.decrypt(stored["$enc"].encode()).decode()
            except InvalidToken as exc:
                raise ConfigError(
                    "a stored secret cannot be decrypted: the secret key changed"
                ) from exc
        return "" if stored is None else str(stored)
