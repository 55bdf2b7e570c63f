"""Loading the organisation from CSV: units and members with roles. Idempotent, all or nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from flows.approvals import role_conflict
from storage.models import Committee, Member, Membership, Unit

ROLES = frozenset({"member", "leader", "chair", "vice_chair", "rep", "admin"})
UNIT_COLUMNS = ("unit_path", "slack_channel_id", "teams_channel_id", "committee")
MEMBER_COLUMNS = ("unit_path", "email", "name", "role", "slack_user_id", "teams_user_id")


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


def _rows(text: str, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(f"line 1: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    out = []
    for row in reader:
        if None in row:
            raise InvalidInput(f"line {reader.line_num}: more fields than columns")
        out.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    return out


def clean_path(path: str) -> str:
    parts = [p.strip() for p in path.strip().strip("/").split("/")]
    if not path.strip() or any(not p for p in parts):
        raise ValueError("unit_path is empty or has an empty part")
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
    for line, row in _rows(text, ("unit_path",)):
        try:
            path = clean_path(row["unit_path"])
        except ValueError as err:
            raise InvalidInput(f"line {line}: {err}") from None
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
                session.add(Committee(name=name, unit_id=unit.id))
                changed = True
            elif committee.unit_id != unit.id:
                raise InvalidInput(f"line {line}: committee {name!r} belongs to another unit")
        session.flush()
        outcomes.append(_outcome(new, changed))
    return ImportResult.of(outcomes)


def check_sides(line: int, email: str, roles: Iterable[str]) -> None:
    """One person, one side of a MED committee (flows.approvals): refuse the row otherwise."""
    conflict = role_conflict(roles)
    if conflict:
        raise InvalidInput(f"line {line} ({email}): {conflict}")


def import_members(session: Session, text: str) -> ImportResult:
    outcomes: list[str] = []
    for line, row in _rows(text, ("unit_path", "email", "name")):
        path = row["unit_path"].strip().strip("/")
        unit = session.scalars(select(Unit).where(Unit.path == path)).first()
        if unit is None:
            raise InvalidInput(f"line {line}: unknown unit_path {path!r} (import the units first)")
        email = row["email"].lower()
        if "@" not in email or " " in email:
            raise InvalidInput(f"line {line}: {row['email']!r} is not an e-mail address")
        if not row["name"]:
            raise InvalidInput(f"line {line}: name is empty")
        roles = sorted({r.strip() for r in (row.get("role") or "member").split(";") if r.strip()})
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise InvalidInput(
                f"line {line}: unknown role {unknown[0]!r} (use {', '.join(sorted(ROLES))})"
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
