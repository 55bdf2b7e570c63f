"""Every exception MEDpuls raises on purpose, in one tree.

    MedpulsError                     a problem we foresaw; its message is one line
    ├── NotFound                     an id, path or name that does not exist
    ├── InvalidInput (ValueError)    input of the wrong form
    │   ├── BankError                a question bank file or a custom question
    │   └── BadAction                packed action data we did not make
    ├── NotAllowed                   the acting member may not do this
    │   ├── Refused                  ... and the refusal is audited after the rollback
    │   └── CannotSign               ... a signature that does not count (two sides, two people)
    ├── RoundClosed                  a click on a round that has closed
    ├── ConfigError                  a setting missing, half-set or malformed (exit 2)
    └── PlatformError                talking to Slack or Teams went wrong
        ├── DeliveryError            a send failed (retry, permanent or unknown outcome)
        ├── Unroutable               no platform can take this message
        ├── TokenError               the platform's login endpoint gave no token
        └── Unauthorized             a request that did not prove it comes from the platform

The CLI and the chat boundary (bot.app.turns) catch MedpulsError and show its one line; nothing
else reaches a user as a traceback. Adapters may subclass a platform error (MessageGone), never
invent a root of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pathlib import Path

    from storage.models import AuditEntry


class MedpulsError(Exception):
    """A problem we foresaw; its message is one clear line, never a stack trace."""


class NotFound(MedpulsError):
    """An id, path or name that does not exist."""


class InvalidInput(MedpulsError, ValueError):
    """Input of the wrong form (a CSV row, a date, a command argument)."""


class BankError(InvalidInput):
    """A question bank file or a custom question is invalid.

    `file` and `line` (1-based) are set when the problem has a place in a data file.
    """

    def __init__(self, reason: str, *, file: Path | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        where = "" if file is None else f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{reason}")


class BadAction(InvalidInput):
    """Packed action data that we did not make, or that no longer decodes."""


class NotAllowed(MedpulsError):
    """The acting member may not do this."""


class Refused(NotAllowed):
    """A refusal that outlives its turn: the core writes `audit_entry` after the rollback."""

    def __init__(self, message: str, audit_entry: AuditEntry) -> None:
        super().__init__(message)
        self.audit_entry = audit_entry


class CannotSign(NotAllowed):
    """Why a member's signature does not count: "no_side", "signed" or "side_signed"."""

    def __init__(self, reason: Literal["no_side", "signed", "side_signed"]) -> None:
        super().__init__(reason)
        self.reason = reason


class RoundClosed(MedpulsError):
    """A click on a round that has closed."""


class ConfigError(MedpulsError):
    """A setting that is missing, half-set or malformed; start-up stops with exit 2."""


class PlatformError(MedpulsError):
    """Talking to a chat platform went wrong."""


class DeliveryError(PlatformError):
    """A send failed. `retry_after` set: rate limited; `permanent`: do not retry."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        unknown_outcome: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        # The request may have reached the platform (connection reset after sending): the
        # outbox parks the row instead of sending it again, so nobody gets a message twice.
        self.unknown_outcome = unknown_outcome


class Unroutable(PlatformError):
    """No platform can take this message (no channel id, no platform identity)."""


class TokenError(PlatformError):
    """The login endpoint did not give us a token."""


class Unauthorized(PlatformError):
    """A request that did not prove it comes from the Bot Framework."""
