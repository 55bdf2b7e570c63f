"""Who may reply to which comment, and what a reply may not say."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.agenda import CHAIR_ROLES
from flows.pulse import committees_over
from flows.scrub import scrub
from storage.models import Answer, Member, Membership, Participation, PulseRound, Unit
from storage.queries import ancestors


def member_names(session: Session) -> list[str]:
    """The names the scrubber takes out of comments and replies."""
    return list(session.scalars(select(Member.name).where(Member.erased.is_(False))))


def names_someone(session: Session, text: str) -> bool:
    """True when the scrubber would take something out: a name, mention, address or number."""
    return scrub(text, member_names(session)) != text


def may_reply(session: Session, member: Member | None, unit: Unit) -> bool:
    """A leader of the unit or a unit above it, or a chair of a committee whose area holds it."""
    if member is None:
        return False
    chain = [unit.id, *(u.id for u in ancestors(session, unit))]
    rows = session.scalars(
        select(Membership).where(Membership.member_id == member.id, Membership.unit_id.in_(chain))
    )
    if any("leader" in ms.role_set for ms in rows):
        return True
    committee_units = {c.unit_id for c in committees_over(session, unit)}
    rows = session.scalars(
        select(Membership).where(
            Membership.member_id == member.id, Membership.unit_id.in_(committee_units)
        )
    )
    return any(ms.role_set & CHAIR_ROLES for ms in rows)


def answered_in(session: Session, pulse_round: PulseRound) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Participation.round_id == pulse_round.id, Participation.answered.is_(True)
            )
        )
        or 0
    )


def refusal(session: Session, pulse_round: PulseRound | None, answer: Answer | None) -> str | None:
    """Why no reply may go to this comment (a locale key), or None when it may."""
    if pulse_round is None or answer is None or not answer.comment or pulse_round.is_open:
        return "replies.unknown"
    if answer.hidden:
        return "replies.hidden"
    # Below the comment threshold the comment was shown only pooled with other units; a reply
    # offered to this round's few members would narrow its author down to them.
    if answered_in(session, pulse_round) < pulse_round.min_comment_group_size:
        return "replies.below_threshold"
    if answer.reply_capsule is None:
        return "replies.switched_off"
    return None
