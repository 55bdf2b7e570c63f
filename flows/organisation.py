"""Loading the organisation from CSV: units and members with roles. Idempotent, all or nothing.

Reading the file (encoding, separator, cells) is flows/csv_table.py; here are the rules of the
organisation: every value fits its column, a member's rows agree with each other, and no
platform id is claimed by two people. Errors name the row and column, and are found before
anything is written (the database would find some of them only on PostgreSQL, as tracebacks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.core.errors import InvalidInput
from flows.approvals import role_conflict
from flows.csv_table import rows as table_rows
from storage.models import Committee, Member, Membership, Unit

ROLES = frozenset({"member", "leader", "chair", "vice_chair", "rep", "admin"})
UNIT_COLUMNS = ("unit_path", "slack_channel_id", "teams_channel_id", "committee")
MEMBER_COLUMNS = ("unit_path", "email", "name", "role", "slack_user_id", "teams_user_id")


def _length(column: Any) -> int | None:
    return getattr(column.type, "length", None)


# The longest value each column's database column takes, in characters (as PostgreSQL counts).
UNIT_LIMITS: dict[str, int | None] = {
    "unit_path": _length(Unit.path),
    "slack_channel_id": _length(Unit.slack_channel_id),
    "teams_channel_id": _length(Unit.teams_channel_id),
    "committee": _length(Committee.name),
}
MEMBER_LIMITS: dict[str, int | None] = {
    "unit_path": _length(Unit.path),
    "email": _length(Member.email),
    "name": _length(Member.name),
    # Several roles joined by ";", each one of ROLES: no longer than all of them together.
    "role": len(";".join(sorted(ROLES))),
    "slack_user_id": _length(Member.slack_user_id),
    "teams_user_id": _length(Member.teams_user_id),
}


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int

    @staticmethod
    def of(outcomes: list[str]) -> ImportResult:
        """From one "created" / "updated" / "unchanged" per row."""
        return ImportResult(*(outcomes.count(k) for k in ("created", "updated", "unchanged")))


def _outcome(new: bool, changed: bool) -> str:
    return "created" if new else "updated" if changed else "unchanged"


def _rows(
    text: str, required: Iterable[str], limits: dict[str, int | None]
) -> list[tuple[int, dict[str, str]]]:
    return [(row.number, row.values) for row in table_rows(text, required, limits)]


def clean_path(path: str) -> str:
    parts = [p.strip() for p in path.strip().strip("/").split("/")]
    if not path.strip() or any(not p for p in parts):
        raise ValueError("unit_path is empty or has an empty part")
    longest = _length(Unit.name)
    if longest is not None and any(len(p) > longest for p in parts):
        raise ValueError(f"a unit name in the path is longer than {longest} characters")
    return "/".join(parts)


def ensure_unit(session: Session, path: str) -> tuple[Unit, bool]:
    """The unit at `path`, with its parents, created where missing."""
    existing = session.scalars(select(Unit).where(Unit.path == path)).first()
    if existing:
        return existing, False
    parent = None
    if "/" in path:
        parent, _ = ensure_unit(session, path.rsplit("/", 1)[0])
    unit = Unit(path=path, name=path.rsplit("/", 1)[-1], parent=parent)
    session.add(unit)
    session.flush()
    return unit, True


def import_units(session: Session, text: str) -> ImportResult:
    outcomes: list[str] = []
    rows = _rows(text, ("unit_path",), UNIT_LIMITS)
    _check_unit_rows(rows)
    for line, row in rows:
        try:
            path = clean_path(row["unit_path"])
        except ValueError as err:
            raise InvalidInput(f"row {line}, column unit_path: {err}") from None
        unit, new = ensure_unit(session, path)
        changed = False
        for column in ("slack_channel_id", "teams_channel_id"):
            value = row.get(column) or None
            if value is not None and getattr(unit, column) != value:
                setattr(unit, column, value)
                changed = True
        name = row.get("committee") or ""
        if name:
            committee = session.scalars(select(Committee).where(Committee.name == name)).first()
            if committee is None:
                other = session.scalars(
                    select(Committee).where(Committee.unit_id == unit.id)
                ).first()
                if other is not None:
                    raise InvalidInput(
                        f"row {line}, column committee: {path!r} already has the committee "
                        f"{other.name!r}; a unit has one committee"
                    )
                session.add(Committee(name=name, unit_id=unit.id))
                changed = True
            elif committee.unit_id != unit.id:
                raise InvalidInput(
                    f"row {line}, column committee: committee {name!r} belongs to another unit"
                )
        session.flush()
        outcomes.append(_outcome(new, changed))
    return ImportResult.of(outcomes)


def check_sides(line: int, email: str, roles: Iterable[str]) -> None:
    """One person, one side of a MED committee (flows.approvals): refuse the row otherwise."""
    conflict = role_conflict(roles)
    if conflict:
        raise InvalidInput(f"row {line}, column role ({email}): {conflict}")


def import_members(session: Session, text: str) -> ImportResult:
    outcomes: list[str] = []
    rows = _rows(text, ("unit_path", "email", "name"), MEMBER_LIMITS)
    _check_member_rows(session, rows)
    for line, row in rows:
        path = row["unit_path"].strip().strip("/")
        unit = session.scalars(select(Unit).where(Unit.path == path)).first()
        if unit is None:
            raise InvalidInput(
                f"row {line}, column unit_path: unknown unit {path!r} (import the units first)"
            )
        email = row["email"].lower()
        roles = sorted({r.strip() for r in (row.get("role") or "member").split(";") if r.strip()})
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise InvalidInput(
                f"row {line}, column role: unknown role {unknown[0]!r} "
                f"(use {', '.join(sorted(ROLES))})"
            )
        check_sides(line, email, roles)
        member = session.scalars(select(Member).where(Member.email == email)).first()
        changed = new = False
        if member is None:
            member = Member(email=email, name=row["name"])
            session.add(member)
            new = True
        for column in ("name", "slack_user_id", "teams_user_id"):
            value = row.get(column) or None
            if value is not None and getattr(member, column) != value:
                setattr(member, column, value)
                changed = True
        session.flush()
        ms = session.scalars(
            select(Membership).where(
                Membership.member_id == member.id, Membership.unit_id == unit.id
            )
        ).first()
        joined = ";".join(roles or ["member"])
        if ms is None:
            session.add(Membership(member_id=member.id, unit_id=unit.id, roles=joined))
            changed = True
        elif ms.roles != joined:
            ms.roles = joined
            changed = True
        session.flush()
        outcomes.append(_outcome(new, changed))
    return ImportResult.of(outcomes)


# --- checks across rows, before anything is written ------------------------------------------


def _check_unit_rows(rows: list[tuple[int, dict[str, str]]]) -> None:
    """A unit appears on one row: a second would silently overwrite the first's channels."""
    first: dict[str, int] = {}
    for line, row in rows:
        key = row["unit_path"].strip().strip("/")
        if key in first:
            raise InvalidInput(
                f"row {line}, column unit_path: {key!r} is already on row {first[key]}"
            )
        first[key] = line


PLATFORM_ID_COLUMNS = ("slack_user_id", "teams_user_id")


def _check_member_rows(session: Session, rows: list[tuple[int, dict[str, str]]]) -> None:
    """One person, one identity: a member may have a row per unit, but those rows must agree,
    and no Slack or Teams id may belong to two e-mail addresses (in the file or already)."""
    by_email: dict[str, tuple[int, dict[str, str]]] = {}
    units_seen: dict[tuple[str, str], int] = {}
    id_owner: dict[tuple[str, str], tuple[int, str]] = {}
    for line, row in rows:
        email = row["email"].lower()
        if "@" not in email or " " in email:
            raise InvalidInput(
                f"row {line}, column email: {row['email']!r} is not an e-mail address"
            )
        if not row["name"]:
            raise InvalidInput(f"row {line}, column name: the name is empty")
        unit = row["unit_path"].strip().strip("/")
        if (email, unit) in units_seen:
            raise InvalidInput(
                f"row {line}, column email: {email} is already on row "
                f"{units_seen[email, unit]} for the unit {unit!r}"
            )
        units_seen[email, unit] = line
        earlier = by_email.get(email)
        if earlier is not None:
            for column in ("name", *PLATFORM_ID_COLUMNS):
                before, now = earlier[1].get(column) or "", row.get(column) or ""
                if before != now and (column == "name" or (before and now)):
                    raise InvalidInput(
                        f"row {line}, column {column}: {now!r} differs from {before!r} on row "
                        f"{earlier[0]} for the same e-mail {email} (two people with one "
                        "address?)"
                    )
        else:
            by_email[email] = (line, row)
        for column in PLATFORM_ID_COLUMNS:
            value = row.get(column) or ""
            if not value:
                continue
            owner = id_owner.get((column, value))
            if owner is not None and owner[1] != email:
                raise InvalidInput(
                    f"row {line}, column {column}: {value} is also given to {owner[1]} on "
                    f"row {owner[0]}"
                )
            id_owner[column, value] = (line, email)
    for (column, value), (line, email) in id_owner.items():
        held = session.scalars(
            select(Member).where(
                getattr(Member, column) == value,
                or_(Member.email.is_(None), Member.email != email),
            )
        ).first()
        if held is not None:
            raise InvalidInput(
                f"row {line}, column {column}: {value} already belongs to another member "
                f"({held.email or 'erased'})"
            )
