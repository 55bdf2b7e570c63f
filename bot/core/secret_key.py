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
import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.core.errors import ConfigError

if TYPE_CHECKING:
    from bot.core.config import Settings

log = logging.getLogger("medpuls.secret_key")

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


# --- the key in force -------------------------------------------------------------------------

# Where the local chat keeps a generated key when MEDPULS_SECRET_KEY is unset: next to the
# SQLite file (or in the working directory for other databases), never in the database.
KEY_FILE_NAME = "medpuls-secret.key"
_loaded: dict[str, bytes] = {}
# The key this process last resolved, for code that is handed no settings (in_force).
_in_force: bytes | None = None


def local_key_path(settings: Settings) -> Path:
    """Where the local chat's generated key lives: beside the SQLite file, else here."""
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).resolve().parent / KEY_FILE_NAME
    return Path.cwd() / KEY_FILE_NAME


def _local_key(path: Path) -> bytes:
    """Read the key file, or create it (mode 0600) with a new key; said on stderr's log."""
    cached = _loaded.get(str(path))
    if cached is not None:
        return cached
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = parse_secret_key(path.read_text(encoding="ascii", errors="replace"))
        log.info(
            "MEDPULS_SECRET_KEY not set: using the local chat's key", extra={"path": str(path)}
        )
    else:
        value = generate_secret_key()
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(value + "\n")
        key = parse_secret_key(value)
        log.warning(
            "MEDPULS_SECRET_KEY not set: generated a key for the local chat; keep the file, "
            "and never in the database's backups",
            extra={"path": str(path)},
        )
    _loaded[str(path)] = key
    return key


def require_secret_key(settings: Settings) -> bytes:
    """The key in force, or a one-line ConfigError naming the setting.

    Slack and Teams need MEDPULS_SECRET_KEY. Without them (the local chat, `make run`, the
    demo, the CLI) a generated key is kept in `local_key_path`, so trying MEDpuls needs no
    setting.
    """
    global _in_force
    value = settings.secret_key.get_secret_value().strip() if settings.secret_key else ""
    if value:
        key = _loaded.get(value)
        if key is None:
            key = _loaded[value] = parse_secret_key(value)
    elif settings.slack_enabled or settings.teams_enabled:
        raise ConfigError(
            "MEDPULS_SECRET_KEY is not set; Slack and Teams need it "
            "(`medpuls secret-key` prints a new one)"
        )
    else:
        key = _local_key(local_key_path(settings))
    _in_force = key
    return key


@cache
def _derived(key: bytes, purpose: str) -> bytes:
    return derive_key(key, purpose)


def subkey(settings: Settings, purpose: str) -> bytes:
    """derive_key of the key in force, computed once per key and purpose."""
    return _derived(require_secret_key(settings), purpose)


def in_force(purpose: str) -> bytes:
    """The subkey of the key this process runs with, for callbacks that get no settings
    (bot.outbox's send-time checks); resolved from the environment if none was yet."""
    if _in_force is None:
        from bot.core.config import Settings

        return subkey(Settings(), purpose)
    return _derived(_in_force, purpose)


# The purposes in use; each is a separate subkey, so one can never be turned into another.
PULSE_ANSWERS = "pulse-answers"
DEDUPE = "dedupe"
