"""The capsule: the comment author's member id sealed with AES-GCM under
derive_key(MEDPULS_SECRET_KEY, "comment-replies"), with a random nonce. The key is in the
environment, never in a table, so the database alone cannot open it."""

from __future__ import annotations

import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.core.config import Settings
from bot.core.secret_key import derive_key, parse_secret_key

PURPOSE = "comment-replies"
AAD = b"medpuls:comment-reply:v1"


def aead(settings: Settings) -> AESGCM | None:
    """The cipher under the replies' subkey; None (no replies) without MEDPULS_SECRET_KEY."""
    if settings.secret_key is None:
        return None
    key = parse_secret_key(settings.secret_key.get_secret_value())
    return AESGCM(derive_key(key, PURPOSE))


def seal_author(settings: Settings, member_id: int) -> bytes | None:
    """The member id sealed for replies; None (no replies) without MEDPULS_SECRET_KEY."""
    cipher = aead(settings)
    if cipher is None:
        return None
    nonce = secrets.token_bytes(12)
    return nonce + cipher.encrypt(nonce, struct.pack(">Q", member_id), AAD)


def open_capsule(settings: Settings, capsule: bytes | None) -> int | None:
    """The author's member id, or None (no capsule, no key, or not ours)."""
    cipher = aead(settings)
    if cipher is None or capsule is None or len(capsule) < 13:
        return None
    try:
        return int(struct.unpack(">Q", cipher.decrypt(capsule[:12], capsule[12:], AAD))[0])
    except (InvalidTag, struct.error):
        return None
