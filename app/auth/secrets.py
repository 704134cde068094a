"""Secrets: random, typed by prefix, stored only as hashes, compared in constant time.

Every secret carries 256 random bits, so a fast hash (SHA-256) is enough at rest: there is no
password to brute-force, and a lookup by hash keeps authentication to one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "prk_"
DEVICE_TOKEN_PREFIX = "prd_"  # noqa: S105 (a prefix, not a secret)
# The secret in a CloudPRNT printer's URL: a device credential, good only on that URL.
CLOUDPRNT_SECRET_PREFIX = "prc_"  # noqa: S105 (a prefix, not a secret)
SECRET_RANDOM_BYTES = 32  # 256 bits

# Pairing codes: typed by people, so short, case-insensitive and free of look-alikes
# (no 0/O, 1/I/L, U). 30 symbols ** 10 characters ~ 5.9e14 codes.
PAIRING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PAIRING_CODE_LENGTH = 10


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def new_device_token() -> str:
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def new_cloudprnt_secret() -> str:
    return CLOUDPRNT_SECRET_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_pairing_code() -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))


def normalize_pairing_code(code: str) -> str:
    """Accept what people type: lower case, spaces and dashes between groups."""
    return "".join(ch for ch in code.upper() if ch not in " -")


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
