"""Who an action concerns: the unit's members, the owner, who may mark it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.dialogue import leaders_of
from storage.models import Member, Membership, TeamAction, Unit


def units_of(session: Session, member: Member) -> list[Unit]:
    rows = session.scalars(select(Membership).where(Membership.member_id == member.id))
    return sorted((ms.unit for ms in rows), key=lambda u: u.path)


def members_in(session: Session, unit_id: int) -> list[Member]:
    rows = session.scalars(select(Membership).where(Membership.unit_id == unit_id))
    return sorted((ms.member for ms in rows if not ms.member.erased), key=lambda m: m.name)


def is_in_unit(session: Session, member: Member | None, unit_id: int) -> bool:
    if member is None:
        return False
    return (
        session.scalars(
            select(Membership.id).where(
                Membership.member_id == member.id, Membership.unit_id == unit_id
            )
        ).first()
        is not None
    )


def owners_of(session: Session, action: TeamAction) -> list[Member]:
    """Who is reminded: the owner, or every member of the unit for the whole team."""
    if action.owner_id is None:
        return members_in(session, action.unit_id)
    owner = session.get(Member, action.owner_id)
    return [owner] if owner is not None and not owner.erased else []


def may_mark(session: Session, member: Member | None, action: TeamAction) -> bool:
    if member is None:
        return False
    if action.owner_id == member.id:
        return True
    if action.owner_id is None and is_in_unit(session, member, action.unit_id):
        return True
    return member.id in {m.id for m in leaders_of(session, action.unit_id)}
