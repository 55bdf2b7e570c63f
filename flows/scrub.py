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
# issued since 2007 need not pass it. The date part may be written as a date ("01.02.03",
# "01-02-03", one separator throughout) and the last four set off by a dash or a space; a
# plain date has no four digits after it, so "12.05.2026" is not one.
_CPR = re.compile(
    r"(?<![\w+])(?<!\d[.,:/-])(?:0[1-9]|[12]\d|3[01])([.-]?)(?:0[1-9]|1[0-2])\1\d{2}"
    r"(?:-|[ ]-?[ ]?)?\d{4}(?!\d|[.,:/-]\d)"
)
# The groupings Danes write numbers in. Between groups a space, or the same dot or dash
# throughout four pairs ("12.34.56.78"): a date or a time has at most three groups, so
# "12.05.2026", "2026-05-12" and "kl. 14:30" never look like one.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[.,:/-])(?:(?:\+|00)45[ .-]?)?"
    r"(?:\d{8}|\d{2}([ .-])\d{2}\1\d{2}\1\d{2}|\d{4} \d{4}|\d{3} \d{3} \d{2}|\d{3} \d{2} \d{3})"
    r"(?!\d|[.,:/-]\d)"
)
# Invisible characters that split a word without showing: a name written "Met\u200bte" or
# with a soft hyphen must still be found. Removing them changes nothing a reader sees.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Danish letters and how they are written without them: "Soren", "Soeren", "Baekgaard",
# "Oestergaard", "Aase"; and "aa" written as "å" the other way round.
_FOLD = {
    "æ": "(?:æ|ae|a|ä)",
    "ø": "(?:ø|oe|o|ö)",
    "å": "(?:å|aa|a)",
    "ä": "(?:ä|æ|ae|a)",
    "ö": "(?:ö|ø|oe|o)",
    "ü": "(?:ü|ue|u)",
    "é": "(?:é|e)",
    "è": "(?:è|e)",
}


def scrub(text: str, names: Iterable[str], placeholder: str = "[…]") -> str:
    """Return ``text`` with names, mentions, e-mail addresses, phone and CPR numbers replaced."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    for pattern in (_TEAMS_MENTION, _SLACK_MENTION, _SLACK_LINK, _EMAIL, _AT_MENTION, _CPR, _PHONE):
        text = pattern.sub(placeholder, text)
    name_pattern = _names_pattern(names)
    if name_pattern is not None:
        text = name_pattern.sub(placeholder, text)
    return text


def _spelling(word: str) -> str:
    """A regex for ``word`` that also matches its spellings without Danish letters."""
    out: list[str] = []
    i = 0
    lower = word.lower()
    while i < len(word):
        pair = lower[i : i + 2]
        if pair == "aa":
            out.append("(?:aa|å)")
            i += 2
            continue
        ch = lower[i]
        out.append(_FOLD.get(ch, re.escape(word[i])))
        i += 1
    return "".join(out)


def _initials(parts: list[str]) -> list[str]:
    """ "S.Ø.", "S. Ø." and "S.Ø" for Søren Østergaard (with the letters' plain spellings)."""
    letters = [p[0] for p in parts if p]
    if len(letters) < 2:
        return []
    dotted = r"\.\s?".join(_spelling(c) for c in letters) + r"\."
    return [dotted, dotted[:-2]]


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    variants: set[str] = set()
    capitals: set[str] = set()
    for name in names:
        parts = _INVISIBLE.sub("", unicodedata.normalize("NFC", name)).split()
        if not parts:
            continue
        variants.add(r"\s+".join(map(_spelling, parts)))
        # "Anne-Marie" may be written as "Anne" or "Marie" too.
        words = [w for part in parts for w in [part, *part.split("-")] if len(w) >= 3]
        variants.update(_spelling(w) for w in words)
        if len(parts) >= 2:
            first, last = parts[0], parts[-1]
            # "Søren Ø." and "S. Østergaard": removing only the spelled-out part would leave
            # the initial next to it, which is often enough to tell who is meant.
            variants.add(rf"{_spelling(first)}\s+{_spelling(last[0])}\b\.?")
            variants.add(rf"{_spelling(first[0])}\.\s*{_spelling(last)}")
            variants.update(_initials(parts))
            # Bare initials ("SØ", "SOE") only in capitals: in lower case they are words.
            capitals.add("".join(p[0].upper() for p in parts))
    if not variants:
        return None
    # Longest first, so a full name wins over its parts; the optional genitive covers
    # "Mettes", "Mette's" and "Lars'".
    alternation = "|".join(sorted(variants, key=len, reverse=True))
    pattern = rf"{_START}(?:{alternation})(?:s|['’]s?)?{_END}"
    if capitals:
        bare = "|".join(_caps(c) for c in sorted(capitals, key=len, reverse=True))
        pattern += rf"|{_START}(?-i:{bare}){_END}"
    return re.compile(pattern, re.IGNORECASE)


def _caps(initials: str) -> str:
    folds = {"Æ": "(?:Æ|AE)", "Ø": "(?:Ø|OE|O)", "Å": "(?:Å|AA)"}
    return "".join(folds.get(c, re.escape(c)) for c in initials)
