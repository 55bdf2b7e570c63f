"""Removing what identifies people from free-text comments (DESIGN.md, anonymity guarantee 3).

Errs towards removing too much: a name that is also a Danish word ("Per", "Hans") goes too,
because a comment missing a word is harmless and a comment naming a colleague is not.
Dates, times, years, week numbers and amounts are kept: they carry the meaning of a comment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["scrub"]

# Python's \w is Unicode-aware, so these boundaries treat æ, ø and å as letters.
_START = r"(?<![\w@])"
_END = r"(?!\w)"

_TEAMS_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_SLACK_MENTION = re.compile(r"<[@!](?:[A-Z0-9]+|subteam\^[A-Z0-9]+)(?:\|[^>]*)?>")
_SLACK_LINK = re.compile(r"<(?:mailto|tel):[^>]*>", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
_AT_MENTION = re.compile(r"(?<![\w.])@\w+(?:[.-]\w+)*")
# Day 01-31 and month 01-12 only: the modulus-11 check is not applied, because CPR numbers
# issued since 2007 need not pass it.
_CPR = re.compile(
    r"(?<![\w+])(?<!\d[.,:/-])(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}-?\d{4}(?!\d|[.,:/-]\d)"
)
# Only the groupings Danes write numbers in, and no dots, colons or dashes between groups, so
# "12.05.2026", "2026-05-12" and "kl. 14:30" never look like one.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[.,:/-])(?:(?:\+|00)45[ ]?)?"
    r"(?:\d{8}|\d{2} \d{2} \d{2} \d{2}|\d{4} \d{4})"
    r"(?!\d|[.,:/-]\d)"
)


def scrub(text: str, names: Iterable[str], placeholder: str = "[…]") -> str:
    """Return ``text`` with names, mentions, e-mail addresses, phone and CPR numbers replaced."""
    text = unicodedata.normalize("NFC", text)
    for pattern in (_TEAMS_MENTION, _SLACK_MENTION, _SLACK_LINK, _EMAIL, _AT_MENTION, _CPR, _PHONE):
        text = pattern.sub(placeholder, text)
    name_pattern = _names_pattern(names)
    if name_pattern is not None:
        text = name_pattern.sub(placeholder, text)
    return text


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    variants: set[str] = set()
    for name in names:
        parts = unicodedata.normalize("NFC", name).split()
        if not parts:
            continue
        variants.add(r"\s+".join(map(re.escape, parts)))
        # "Anne-Marie" may be written as "Anne" or "Marie" too.
        words = [w for part in parts for w in [part, *part.split("-")] if len(w) >= 3]
        variants.update(re.escape(w) for w in words)
        if len(parts) >= 2:
            first, last = parts[0], parts[-1]
            # "Søren Ø." and "S. Østergaard": removing only the spelled-out part would leave
            # the initial next to it, which is often enough to tell who is meant.
            variants.add(rf"{re.escape(first)}\s+{re.escape(last[0])}\b\.?")
            variants.add(rf"{re.escape(first[0])}\.\s*{re.escape(last)}")
    if not variants:
        return None
    # Longest first, so a full name wins over its parts; the optional genitive covers
    # "Mettes", "Mette's" and "Lars'".
    alternation = "|".join(sorted(variants, key=len, reverse=True))
    return re.compile(rf"{_START}(?:{alternation})(?:s|['’]s?)?{_END}", re.IGNORECASE)
