"""The user-facing error tree: one base class, caught at the CLI and at the chat boundary."""

from __future__ import annotations


class MedpulsError(Exception):
    """A problem the user can fix; its message is one clear line, never a stack trace."""


class NotFound(MedpulsError):
    """An id, path or name that does not exist."""


class InvalidInput(MedpulsError):
    """Input of the wrong form (a CSV row, a date, a command argument)."""


class NotAllowed(MedpulsError):
    """The acting member may not do this."""


class RoundClosed(MedpulsError):
    """A click on a round that has closed."""


class ConfigError(MedpulsError):
    """A setting that is missing, half-set or malformed; start-up stops with exit 2."""
