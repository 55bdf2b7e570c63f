"""CSV tables as people save them from Excel: encoding, separator, rows, cells.

Danish Excel saves "CSV" as Windows-1252 with semicolons; "CSV UTF-8" adds a byte-order mark;
"Unicode text" is UTF-16. So the bytes are decoded by their BOM (UTF-8, UTF-16), else as UTF-8,
else as Windows-1252; the separator is whichever of comma, semicolon and tab makes a header with
the expected column names. Every problem is an `InvalidInput` naming the row (as a spreadsheet
numbers it: the header is row 1) and the column, and checks are made here, not left to the
database: PostgreSQL refuses NUL and over-long values where SQLite would store them, so both
must see the same refusal first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import InvalidInput

SEPARATORS = (",", ";", "\t")
# File signatures of what people pick by mistake: a workbook, a zip, a PDF, a picture.
_BINARY_MAGIC = (
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0",
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
)
_NOT_TEXT = (
    "is not a CSV text file (in Excel: Save As, then 'CSV UTF-8' or 'CSV (semicolon separated)')"
)
# Characters no cell may hold: C0 controls (NUL, line breaks inside a cell, tabs) and DEL.
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet shows it: the header is row 1
    values: dict[str, str]


def read_file(path: Path) -> str:
    """The text of a CSV file; `InvalidInput` for a directory, an unreadable or binary file."""
    if path.is_dir():
        raise InvalidInput("is a directory, not a CSV file")
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise InvalidInput("cannot be read (permission denied)") from None
    except OSError as err:
        raise InvalidInput(f"cannot be read ({err.strerror or type(err).__name__})") from None
    return decode(raw)


def decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return _strict(raw, "utf-8-sig")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(raw, "utf-16")
    if raw.startswith(_BINARY_MAGIC):
        raise InvalidInput(_NOT_TEXT)
    if b"\x00" in raw:
        zeros_odd = raw[1::2].count(0)
        zeros_even = raw[0::2].count(0)
        half = len(raw) // 2
        # UTF-16 without a BOM: every other byte of ASCII text is zero.
        if half and zeros_odd > 0.4 * half and zeros_even == 0:
            return _strict(raw, "utf-16-le")
        if half and zeros_even > 0.4 * half and zeros_odd == 0:
            return _strict(raw, "utf-16-be")
    for encoding in ("utf-8", "cp1252"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ch in _CONTROL and ch not in "\t\r\n")
        if controls > max(2, len(text) // 100):
            raise InvalidInput(_NOT_TEXT)
        return text
    raise InvalidInput(_NOT_TEXT)


def _strict(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise InvalidInput(f"{_NOT_TEXT}: its {encoding} is broken") from None


def _header(line: str, separator: str) -> list[str]:
    return [
        h.strip().lstrip("\ufeff").strip() for h in next(csv.reader([line], delimiter=separator))
    ]


def separator_of(text: str, known: Iterable[str]) -> str:
    """The separator whose header row names the most known columns (comma on a tie)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    names = set(known)
    return max(SEPARATORS, key=lambda sep: len(names & set(_header(first, sep))) if first else 0)


def cell_problem(value: str, limit: int | None) -> str | None:
    if "\x00" in value:
        return "contains a NUL byte"
    if any(ch in _CONTROL for ch in value):
        return "contains a line break or another control character"
    if limit is not None and len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} fit"
    return None


def rows(text: str, required: Iterable[str], limits: Mapping[str, int | None]) -> list[Row]:
    """The data rows of `text`, each cell stripped and checked against its column's limit.

    `limits` names every column we read (None: no length limit); other columns are ignored.
    """
    text = text.lstrip("\ufeff")
    required = list(required)
    separator = separator_of(text, limits)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        records = list(reader)
    except csv.Error as err:
        raise InvalidInput(f"row {reader.line_num}: not valid CSV ({err})") from None
    header = [h.strip() for h in records[0]] if records else []
    missing = [c for c in required if c not in header]
    if missing:
        seen = ", ".join(repr(h) for h in header[:8]) or "nothing"
        raise InvalidInput(
            f"row 1: missing column(s) {', '.join(missing)}; the header row has {seen} "
            "(columns are separated by commas or semicolons)"
        )
    for column in header:
        problem = cell_problem(column, None)
        if problem:
            raise InvalidInput(f"row 1: a column name {problem}")
    out: list[Row] = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            raise InvalidInput(
                f"row {number}: {len(record)} fields but {len(header)} columns "
                f"(a {separator!r} inside a value needs quotes)"
            )
        values = {column: "" for column in header}
        for column, cell in zip(header, record, strict=False):
            values[column] = cell.strip()
        for column, limit in limits.items():
            problem = cell_problem(values.get(column, ""), limit)
            if problem:
                raise InvalidInput(f"row {number}, column {column}: the value {problem}")
        out.append(Row(number, values))
    return out
