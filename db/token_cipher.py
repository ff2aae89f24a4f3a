"""Refresh tokens at rest: Fernet encryption with key rotation (first key encrypts, all decrypt)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenCipherError(ValueError):
    """A key is malformed, missing, or cannot decrypt a stored token."""


class TokenCipher:
    """Encrypts refresh tokens with the first key and decrypts with any key."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise TokenCipherError(
                "TOKEN_ENCRYPTION_KEY is not set; generate one with "
                "`python application.py generate-key`"
            )
        try:
            fernets = [Fernet(key.strip().encode()) for key in keys]
        except ValueError:
            raise TokenCipherError(
                "TOKEN_ENCRYPTION_KEY must be comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each)"
            ) from None
        self._fernet = MultiFernet(fernets)
        self._first_key = keys[0].strip().encode()

    def __repr__(self) -> str:
        return "TokenCipher(keys=***)"

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenCipherError(
                "a stored refresh token cannot be decrypted with TOKEN_ENCRYPTION_KEY "
                "(was a key removed before `users rotate-keys` ran?)"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenCipherError(
                "a stored refresh token cannot be decrypted with any key"
            ) from None

    def derive_key(self, purpose: str) -> bytes:
        """A key for `purpose` (e.g. signing login states) derived from the first key."""
        # One key per purpose: a signature can never stand in for a ciphertext or vice versa,
        # and rotating TOKEN_ENCRYPTION_KEY also rotates every derived key.
        return hmac.new(
            self._first_key, b"spotify-insight:" + purpose.encode(), hashlib.sha256
        ).digest()


def generate_key() -> str:
    return Fernet.generate_key().decode()
