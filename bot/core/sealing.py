"""Secrets sealed at rest: platform tokens are stored only as Fernet tokens under a subkey of
MEDPULS_SECRET_KEY, so a database dump or backup alone does not hand out a bot token.

Fernet (from `cryptography`, which we already depend on and which is maintained and audited)
is authenticated encryption with a timestamp; a `MultiFernet` opens with the current key or
with MEDPULS_SECRET_KEY_PREVIOUS and always seals with the current one, so a key can be
rotated without downtime: set the new key and the previous one, run `medpuls secret-key
rotate`, then drop the previous key. Each use has its own HKDF subkey (`purpose`), so one
sealed value cannot be passed off as another kind.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.secret_key import derive_key, parse_secret_key


class Sealer:
    def __init__(self, keys: list[bytes], purpose: str) -> None:
        self.purpose = purpose
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(derive_key(key, purpose))) for key in keys]
        )

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as err:
            raise ConfigError(
                f"stored secrets ({self.purpose}) cannot be opened with MEDPULS_SECRET_KEY (nor "
                "MEDPULS_SECRET_KEY_PREVIOUS): was the key changed without a rotation?"
            ) from err

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the current key (a no-op in effect if it already is)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken as err:
            raise ConfigError(
                f"stored secrets ({self.purpose}) cannot be opened with MEDPULS_SECRET_KEY nor "
                "MEDPULS_SECRET_KEY_PREVIOUS"
            ) from err


def sealer(settings: Settings, purpose: str, *, needed_for: str) -> Sealer:
    """The sealer for `purpose`; a one-line start-up error when MEDPULS_SECRET_KEY is not set."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        raise ConfigError(
            f"{needed_for} needs MEDPULS_SECRET_KEY (tokens are stored encrypted); "
            "`medpuls secret-key` prints a new one"
        )
    keys = [parse_secret_key(settings.secret_key.get_secret_value())]
    if settings.secret_key_previous is not None:
        previous = settings.secret_key_previous.get_secret_value()
        if previous.strip():
            try:
                keys.append(parse_secret_key(previous))
            except ConfigError:
                raise ConfigError(
                    "MEDPULS_SECRET_KEY_PREVIOUS must be a key as `medpuls secret-key` prints it"
                ) from None
    return Sealer(keys, purpose)
