"""Encryption of secrets at rest (OAuth tokens) with a key from settings."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from integration.settings import Settings


class SecretBox:
    """Encrypts and decrypts short secrets; `repr` never shows the key."""

    def __init__(self, key_material: str) -> None:
        digest = hashlib.sha256(key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted: was SECRET_KEY changed?") from None

    def __repr__(self) -> str:
        return "SecretBox(<hidden>)"


def load_secret_key(settings: Settings) -> str:
    """The configured SECRET_KEY, or a random one created once in data_dir (mode 0600)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = Path(settings.data_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(load_secret_key(settings))
