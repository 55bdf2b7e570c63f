"""The MED committees as a tree (issue 18, point 5): each committee's parent and children, and
which units hear what it publishes.

A committee's *parent* is the nearest committee above its unit (Hoved-MED for a local MED);
its *children* are the committees whose parent it is. Calls for proposals go only to the units
a committee serves (flows.agenda.units_served), because a unit with its own local MED proposes
there; but what a committee has agreed (its published agenda and approved minutes) reaches every
unit below it, local MED or not, and its minutes reach the parent committee's channel too, so
the committee above sees what was decided below.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Committee, Unit
from storage.queries import ancestors, subtree

__all__ = [
    "child_committees",
    "committee_of_unit",
    "neighbours",
    "parent_committee",
    "units_informed",
]


def committee_of_unit(session: Session, unit: Unit) -> Committee | None:
    """The nearest committee at or above the unit."""
    for candidate in (unit, *ancestors(session, unit)):
        committee = session.scalars(
            select(Committee).where(Committee.unit_id == candidate.id)
        ).first()
        if committee is not None:
            return committee
    return None


def parent_committee(session: Session, committee: Committee) -> Committee | None:
    parent = committee.unit.parent
    return committee_of_unit(session, parent) if parent is not None else None


def child_committees(session: Session, committee: Committee) -> list[Committee]:
    below = {u.id for u in subtree(session, committee.unit)} - {committee.unit_id}
    if not below:
        return []
    candidates = session.scalars(
        select(Committee).where(Committee.unit_id.in_(below)).order_by(Committee.name)
    ).all()
    return [
        c
        for c in candidates
        if (p := parent_committee(session, c)) is not None and p.id == committee.id
    ]


def neighbours(session: Session, committee: Committee) -> list[Committee]:
    """Where a proposal may be passed: the parent first, then the children."""
    parent = parent_committee(session, committee)
    return ([parent] if parent is not None else []) + child_committees(session, committee)


def units_informed(session: Session, committee: Committee) -> list[Unit]:
    """The committee's unit and every unit below it, including those with their own MED."""
    return list(subtree(session, committee.unit))
