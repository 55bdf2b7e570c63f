"""Who sits at a committee meeting, and who sent apologies (afbud).

A committee's members are the people holding a side's role in its unit (flows.approvals:
chair and leaders for management, vice-chair and TR/AMR for the employees). For each meeting a
member may send their own apologies (`afbud`), and the chair or vice-chair may note them for a
member (`afbud Navn`); `afbud fortryd [Navn]` takes them back. The agenda and the minutes list
the members as participants and absentees. Apologies name only who is away, never why.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.events import CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import Reply
from bot.core.router import FlowContext, Router
from flows.agenda import chaired_by, next_meeting, when
from flows.approvals import SIDE_ROLES
from flows.documents import Person
from storage.models import Committee, Meeting, MeetingAbsence, Member, Membership

__all__ = ["attendance", "committee_members", "register"]

# The order members are listed in: the chairs first, then each side.
ROLE_ORDER = ("chair", "vice_chair", "leader", "rep")
UNDO_WORDS = ("fortryd", "undo", "annuller", "cancel")


def committee_members(session: Session, committee: Committee) -> list[tuple[Member, str]]:
    """Each member of the committee with their first role in ROLE_ORDER, chairs first."""
    seated = {r for roles in SIDE_ROLES.values() for r in roles}
    rows = session.scalars(select(Membership).where(Membership.unit_id == committee.unit_id))
    found: list[tuple[Member, str]] = []
    for ms in rows:
        roles = ms.role_set & seated
        if roles and not ms.member.erased:
            found.append((ms.member, next(r for r in ROLE_ORDER if r in roles)))
    return sorted(found, key=lambda pair: (ROLE_ORDER.index(pair[1]), pair[0].name))


def absent_ids(session: Session, meeting: Meeting) -> set[int]:
    return set(
        session.scalars(
            select(MeetingAbsence.member_id).where(MeetingAbsence.meeting_id == meeting.id)
        )
    )


def attendance(
    session: Session, meeting: Meeting, t: Translator
) -> tuple[list[Person], list[Person]]:
    """The meeting's participants and absentees, as the documents print them."""
    away = absent_ids(session, meeting)
    present: list[Person] = []
    absent: list[Person] = []
    for member, role in committee_members(session, meeting.committee):
        person = Person(member.name, t(f"attendance.role_{role}"))
        (absent if member.id in away else present).append(person)
    return present, absent


def _find(members: list[tuple[Member, str]], name: str) -> Member | None:
    """A member by full name, or by the only name that contains what was written."""
    wanted = name.casefold().strip()
    exact = [m for m, _ in members if m.name.casefold() == wanted]
    if exact:
        return exact[0]
    partial = [m for m, _ in members if wanted in m.name.casefold()]
    return partial[0] if len(partial) == 1 else None


def _target(ctx: FlowContext, actor: Member, name: str) -> tuple[Committee, Member] | str:
    """Whose apologies for which committee's next meeting, or the key of why not."""
    if name:
        for committee in chaired_by(ctx.session, actor):
            member = _find(committee_members(ctx.session, committee), name)
            if member is not None:
                return committee, member
        return "attendance.not_found" if chaired_by(ctx.session, actor) else "attendance.own_only"
    sits = [
        c
        for c in ctx.session.scalars(select(Committee).order_by(Committee.name))
        if any(m.id == actor.id for m, _ in committee_members(ctx.session, c))
    ]
    upcoming = [(m, c) for c in sits if (m := next_meeting(ctx.session, c.id, ctx.now))]
    if not upcoming:
        return "attendance.not_member" if not sits else "attendance.no_meeting"
    return min(upcoming, key=lambda pair: pair[0].starts_at)[1], actor


def _set(session: Session, meeting: Meeting, member: Member, by: Member, away: bool) -> bool:
    """Record or take back the apologies; False if nothing changed."""
    row = session.get(MeetingAbsence, (meeting.id, member.id))
    if away and row is None:
        session.add(MeetingAbsence(meeting_id=meeting.id, member_id=member.id, recorded_by=by.id))
        return True
    if not away and row is not None:
        session.delete(row)
        return True
    return False


def on_apologies_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    actor = ctx.member
    if actor is None:
        return Reply.note(t("common.unknown_user"))
    words = event.text.split()[1:]  # after the command word
    undo = bool(words) and words[0].casefold() in UNDO_WORDS
    target = _target(ctx, actor, " ".join(words[1:] if undo else words))
    if isinstance(target, str):
        return Reply.note(t(target))
    committee, member = target
    meeting = next_meeting(ctx.session, committee.id, ctx.now)
    if meeting is None:
        return Reply.note(t("attendance.no_meeting"))
    changed = _set(ctx.session, meeting, member, actor, away=not undo)
    ctx.audit(
        "attendance.withdrawn" if undo else "attendance.apologies",
        f"meeting:{meeting.id}:member:{member.id}",
        changed=changed,
    )
    key = "attendance.withdrawn" if undo else "attendance.recorded"
    return Reply.note(
        t(
            key,
            name=member.name,
            committee=committee.name,
            meeting=when(t, meeting.starts_at, ctx.settings.tz),
        )
    )


def register(router: Router) -> None:
    router.command("afbud", "apologies")(on_apologies_command)
