"""Two sides, two people: the rule behind every joint decision of a MED committee.

A MED committee has a management side (its chair and the managers in it: roles `chair`,
`leader` in the committee's unit) and an employee side (its vice-chair and the employee
representatives: `vice_chair`, `rep`). What needs both sides (an agenda, a lower threshold, a
committee question, hiding a comment, the committee's deadlines) is approved when one person
from each side has signed it, and those are two different people: each person signs a thing
once, for one side. Signatures are rows of the approvals table, one per person, and name the
exact thing signed (`subject`), so a signature of an older version or another value never
counts.

One person may not hold roles on both sides of one committee: the import refuses it
(`role_conflict`), and a person who holds both anyway (older data) still signs only once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.errors import CannotSign
from storage.models import Approval, Committee, Member, Membership

Side = Literal["management", "employee"]
SIDES: tuple[Side, Side] = ("management", "employee")
SIDE_ROLES: dict[Side, tuple[str, ...]] = {
    # The chair first: they are asked before the other members of their side.
    "management": ("chair", "leader"),
    "employee": ("vice_chair", "rep"),
}


def role_conflict(roles: Iterable[str]) -> str | None:
    """Why one person may not hold these roles in one unit together, or None if they may."""
    held = set(roles)
    management = [r for r in SIDE_ROLES["management"] if r in held]
    employee = [r for r in SIDE_ROLES["employee"] if r in held]
    if management and employee:
        return (
            f"one person cannot be both {management[0]} and {employee[0]} in one unit "
            "(management and employee side of its MED committee need two different people)"
        )
    return None


def sides_of(session: Session, member: Member | None, committee: Committee) -> frozenset[Side]:
    if member is None or member.erased:
        return frozenset()
    ms = session.scalars(
        select(Membership).where(
            Membership.member_id == member.id, Membership.unit_id == committee.unit_id
        )
    ).first()
    if ms is None:
        return frozenset()
    return frozenset(side for side in SIDES if ms.role_set & set(SIDE_ROLES[side]))


def signatures(session: Session, subject: str) -> list[Approval]:
    return list(
        session.scalars(select(Approval).where(Approval.subject == subject).order_by(Approval.id))
    )


def signed_sides(session: Session, subject: str) -> frozenset[Side]:
    return frozenset(s for s in SIDES if any(a.side == s for a in signatures(session, subject)))


def is_approved(session: Session, subject: str) -> bool:
    """One person from each side has signed (rows are unique per person and subject)."""
    return signed_sides(session, subject) == frozenset(SIDES)


def missing_sides(session: Session, subject: str) -> list[Side]:
    done = signed_sides(session, subject)
    return [s for s in SIDES if s not in done]


def sign(
    session: Session, committee: Committee, subject: str, member: Member, now: dt.datetime
) -> Side:
    """Record the member's signature for a side they hold that has not signed yet."""
    held = sides_of(session, member, committee)
    if not held:
        raise CannotSign("no_side")
    existing = signatures(session, subject)
    if any(a.member_id == member.id for a in existing):
        raise CannotSign("signed")
    open_sides = [s for s in SIDES if s in held and all(a.side != s for a in existing)]
    if not open_sides:
        raise CannotSign("side_signed")
    side = open_sides[0]
    session.add(
        Approval(committee_id=committee.id, subject=subject, member_id=member.id, side=side, at=now)
    )
    session.flush()
    return side


def signers(session: Session, subject: str) -> dict[Side, Member]:
    out: dict[Side, Member] = {}
    for a in signatures(session, subject):
        member = session.get(Member, a.member_id)
        if member is not None and a.side in SIDES:
            out[a.side] = member
    return out


def who_may_sign(
    session: Session, committee: Committee, side: Side, *, exclude: Iterable[int] = ()
) -> list[Member]:
    """Whom to ask for a side's signature: its chair(s), or else the side's other members."""
    skip = set(exclude)
    rows = session.scalars(
        select(Membership).where(Membership.unit_id == committee.unit_id).order_by(Membership.id)
    ).all()
    for role in SIDE_ROLES[side]:
        found = [
            ms.member
            for ms in rows
            if role in ms.role_set and not ms.member.erased and ms.member_id not in skip
        ]
        if found:
            return found
    return []
