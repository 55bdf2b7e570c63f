"""Read helpers over the organisation that several flows and adapters share."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Committee, Member, Membership, Unit


def unit_by_path(session: Session, path: str) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.path == path.strip().strip("/"))).first()


def subtree(session: Session, unit: Unit) -> list[Unit]:
    """The unit and every unit below it, parents before children."""
    units = list(session.scalars(select(Unit).order_by(Unit.path)))
    children: dict[int | None, list[Unit]] = {}
    for u in units:
        children.setdefault(u.parent_id, []).append(u)
    out: list[Unit] = []
    stack = [unit]
    while stack:
        current = stack.pop(0)
        out.append(current)
        stack.extend(children.get(current.id, []))
    return out


def ancestors(session: Session, unit: Unit) -> list[Unit]:
    """Parents of the unit, nearest first."""
    out: list[Unit] = []
    current = unit.parent
    while current is not None:
        out.append(current)
        current = current.parent
    return out


def members_of(session: Session, unit_id: int) -> Sequence[Member]:
    return session.scalars(
        select(Member)
        .join(Membership, Membership.member_id == Member.id)
        .where(Membership.unit_id == unit_id, Member.erased.is_(False))
        .order_by(Member.id)
    ).all()


def roles_in(session: Session, member_id: int, unit_id: int) -> frozenset[str]:
    ms = session.scalars(
        select(Membership).where(Membership.member_id == member_id, Membership.unit_id == unit_id)
    ).first()
    return ms.role_set if ms else frozenset()


def units_where(session: Session, member_id: int, role: str) -> list[Unit]:
    """Units in which the member holds `role`."""
    rows = session.scalars(select(Membership).where(Membership.member_id == member_id))
    return [m.unit for m in rows if role in m.role_set]


def committee_by_name(session: Session, name: str) -> Committee | None:
    return session.scalars(select(Committee).where(Committee.name == name)).first()


def member_by_platform_id(session: Session, platform: str, user_id: str) -> Member | None:
    if platform == "local":
        return session.get(Member, int(user_id)) if user_id.isdigit() else None
    column = Member.slack_user_id if platform == "slack" else Member.teams_user_id
    return session.scalars(select(Member).where(column == user_id)).first()


def member_by_directory_id(session: Session, aad_object_id: str) -> Member | None:
    return session.scalars(select(Member).where(Member.teams_aad_id == aad_object_id)).first()


def member_by_email(session: Session, email: str) -> Member | None:
    return session.scalars(select(Member).where(Member.email == email.strip().lower())).first()
