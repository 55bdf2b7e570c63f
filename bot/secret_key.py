"""MEDPULS_SECRET_KEY: the one key that is kept outside the database.

Whoever holds only the database (a DBA, a backup, a restored dump) must not be able to undo
what this key protects: the link between a member and an open round's answers, and the
platform tokens stored at rest. So the key lives in the environment, never in a table, and each
use gets its own subkey (HKDF with a purpose label), so that one use can never be turned into
another. The key has Fernet's format (32 random bytes, URL-safe base64), which
`medpuls secret-key` prints.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.errors import ConfigError

KEY_BYTES = 32


def generate_secret_key() -> str:
    """A new key, printable and pasteable into MEDPULS_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")


def parse_secret_key(value: str) -> bytes:
    """The key's 32 bytes; a clear one-line error for anything else."""
    try:
        raw = base64.urlsafe_b64decode(value.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            "MEDPULS_SECRET_KEY must be 32 random bytes in URL-safe base64; "
            "`medpuls secret-key` prints a new one"
        )
    return raw


def derive_key(key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey for one purpose (e.g. "pulse-answers", "slack-tokens")."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"medpuls:" + purpose.encode("utf-8"),
    )
    return hkdf.derive(key)
