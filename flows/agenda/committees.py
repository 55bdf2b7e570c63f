"""The organisation as the agenda sees it: which committee a member proposes to, which units it
serves, who chairs it, who may present for whom, and who hears of a proposal's fate.

A unit's committee is the nearest committee at or above it (flows.med_tree). Chair and
vice-chair are roles in the committee's unit, checked when a click is handled, never when its
button was drawn.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.messages import Reply
from bot.core.router import FlowContext
from flows.med_tree import committee_of_unit
from storage.models import Committee, Member, Membership, Proposal, Unit
from storage.queries import ancestors, subtree

CHAIR_ROLES = frozenset({"chair", "vice_chair"})


def units_served(session: Session, committee: Committee) -> list[Unit]:
    """The committee's unit and the units below it that have no nearer committee."""
    owned = set(session.scalars(select(Committee.unit_id)))
    served: list[Unit] = []
    blocked: set[int] = set()
    for unit in subtree(session, committee.unit):
        if unit.parent_id in blocked or (unit.id != committee.unit_id and unit.id in owned):
            blocked.add(unit.id)
            continue
        served.append(unit)
    return served


def committees_of(session: Session, member: Member) -> list[tuple[Committee, Unit]]:
    """Each committee the member may propose to, with the unit through which they belong."""
    found: dict[int, tuple[Committee, Unit]] = {}
    rows = session.scalars(select(Membership).where(Membership.member_id == member.id))
    for ms in sorted(rows, key=lambda m: m.unit.path):
        committee = committee_of_unit(session, ms.unit)
        if committee is not None and committee.id not in found:
            found[committee.id] = (committee, ms.unit)
    return sorted(found.values(), key=lambda pair: pair[0].name)


def chairs_of(session: Session, committee: Committee) -> list[Member]:
    """The chair and vice-chair: members with those roles in the committee's unit."""
    rows = session.scalars(
        select(Membership).where(Membership.unit_id == committee.unit_id).order_by(Membership.id)
    )
    return [ms.member for ms in rows if ms.role_set & CHAIR_ROLES and not ms.member.erased]


def chair_roles(session: Session, member: Member | None, committee: Committee) -> frozenset[str]:
    if member is None:
        return frozenset()
    ms = session.scalars(
        select(Membership).where(
            Membership.member_id == member.id, Membership.unit_id == committee.unit_id
        )
    ).first()
    return ms.role_set & CHAIR_ROLES if ms else frozenset()


def reps_for(session: Session, unit: Unit, committee: Committee, exclude: int) -> list[Member]:
    """TR/AMRs in the unit or above it, up to the committee's unit."""
    chain = [unit]
    if unit.id != committee.unit_id:
        for parent in ancestors(session, unit):
            chain.append(parent)
            if parent.id == committee.unit_id:
                break
    rows = session.scalars(select(Membership).where(Membership.unit_id.in_([u.id for u in chain])))
    reps = {ms.member.id: ms.member for ms in rows if "rep" in ms.role_set}
    return sorted(
        (m for m in reps.values() if m.id != exclude and not m.erased), key=lambda m: m.name
    )


def chaired_by(session: Session, member: Member) -> list[Committee]:
    units = [
        ms.unit_id
        for ms in session.scalars(select(Membership).where(Membership.member_id == member.id))
        if ms.role_set & CHAIR_ROLES
    ]
    if not units:
        return []
    return list(
        session.scalars(
            select(Committee).where(Committee.unit_id.in_(units)).order_by(Committee.name)
        )
    )


def session_member(session: Session, member_id: int | None) -> Member | None:
    member = session.get(Member, member_id) if member_id is not None else None
    return member if member is not None and not member.erased else None


def proposer_unit(session: Session, p: Proposal, proposer: Member | None) -> Unit | None:
    if proposer is None:
        return None
    for committee, unit in committees_of(session, proposer):
        if committee.id == p.committee_id:
            return unit
    return None


def proposer_side(session: Session, p: Proposal) -> list[Member]:
    """Who hears about the proposal's fate: the proposer and the TR/AMR who presented it."""
    people = [session_member(session, p.proposer_id)]
    if p.status != "via_rep":
        people.append(session_member(session, p.presenter_id))
    seen: dict[int, Member] = {}
    for m in people:
        if m is not None:
            seen.setdefault(m.id, m)
    return list(seen.values())


def refuse_unless_chair(
    ctx: FlowContext, committee: Committee, action: str, subject: str
) -> Reply | None:
    """Only the committee's chair or vice-chair; checked now, not when the button was drawn."""
    if chair_roles(ctx.session, ctx.member, committee):
        ctx.audit(action, subject, allowed=True)
        return None
    ctx.audit(action, subject, allowed=False)
    return Reply.note(ctx.t("agenda.chairs_only"))
