"""Secrets the server must read back (webhook signing secrets), encrypted at rest.

Fernet (``cryptography``: AES-128-CBC with HMAC-SHA256, authenticated) under the keys of
``PRINTRELAY_ENCRYPTION_KEYS``, comma-separated: the first encrypts, every one decrypts
(MultiFernet), so a key is rotated by putting a new one first, re-encrypting the stored values
(``printrelay reencrypt-secrets``) and then dropping the old one (docs/operations.md).

A stored value is ``fernet:<token>``. A value without that prefix is a secret written in clear
before encryption existed (up to migration 0010); it is read as it is until it is sealed.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SEALED_PREFIX = "fernet:"
KEYS_SETTING = "PRINTRELAY_ENCRYPTION_KEYS"


class SecretUnavailable(RuntimeError):
    """A sealed secret that no configured key opens (the message says why, never the secret)."""


class SecretBox:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError(f"{KEYS_SETTING} holds no key")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeError):
                # The position only: a key (even a broken one) never reaches an error or a log.
                raise ValueError(
                    f"{KEYS_SETTING}: key {position} of {len(keys)} is not a Fernet key "
                    "(32 bytes in url-safe base64, as `printrelay generate-encryption-key` "
                    "prints)"
                ) from None
        self._first = fernets[0]
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls([k.strip() for k in value.split(",") if k.strip()])

    def seal(self, secret: str) -> str:
        """The secret encrypted with the first key, as stored."""
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret of a stored value (a clear one as it is)."""
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(SEALED_PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUnavailable(
                f"signing secret not decryptable with any key of {KEYS_SETTING}"
            ) from None

    def is_current(self, stored: str) -> bool:
        """Sealed with the first key (nothing for a rotation to do)."""
        if not is_sealed(stored):
            return False
        try:
            self._first.decrypt(stored[len(SEALED_PREFIX) :].encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reseal(self, stored: str) -> str:
        """The stored value encrypted with the first key (a clear one sealed); raises
        ``SecretUnavailable`` when no key opens it."""
        return self.seal(self.open(stored))


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def open_secret(box: SecretBox | None, stored: str) -> str:
    """The secret of a stored value; ``SecretUnavailable`` when it is sealed and no key is set."""
    if box is not None:
        return box.open(stored)
    if is_sealed(stored):
        raise SecretUnavailable(f"signing secret is encrypted and {KEYS_SETTING} is not set")
    return stored


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")
