"""Data protection: the privacy notice, what we hold about a person, erasure, and retention.

What is stored about a person is their identity (name, e-mail, platform ids), their units and
roles, which rounds they were asked in and (once a round has closed) whether they answered, the
proposals they made or supported, what they did that the audit log records, and where we can
reach them. What they answered is not stored with them (docs/privacy.md): while a round is open
their answers sit under HMAC(server key, round nonce || member id), which only the app, holding
MEDPULS_SECRET_KEY, can compute; so the export lists those answers and erasure deletes them.
When a round closes its answers are re-keyed at random and the nonce destroyed: from then on
nobody can find them per person, and erasure leaves them, like the aggregates, in place.

Raw answers and comments are deleted `MEDPULS_RETENTION_MONTHS` after their round closed; the
aggregates (RoundResult) are kept. Chart images (served at /images/<id>.png to Teams and the
local chat) are deleted, and no longer served, `MEDPULS_RETENTION_MONTHS` after they were made.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import NotFound
from bot.core.events import CommandInvoked, MemberJoined, MessageReceived
from bot.core.i18n import Translator, translator
from bot.core.messages import NO_REPLY, Header, Message, Reply, SmallPrint, Text
from bot.core.outbox import Outgoing, to_member
from bot.core.router import FlowContext, Router
from bot.core.secret_key import PULSE_ANSWERS, in_force
from flows.pulse import language, respondent_key
from flows.scrub import scrub
from storage.audit import audit_entry
from storage.db import Database
from storage.dedupe import forget_processed_events
from storage.models import (
    Answer,
    Approval,
    AuditEntry,
    CommentThread,
    Committee,
    ConversationReference,
    DigestPreference,
    HideRequest,
    LocalMessage,
    Meeting,
    MeetingAbsence,
    Member,
    Membership,
    OutboxMessage,
    Participation,
    Proposal,
    ProposalAlerts,
    PulseRound,
    RateBucket,
    StoredImage,
    Support,
    TeamAction,
    ThreadMessage,
    ThresholdChange,
)
from storage.queries import member_by_email

log = logging.getLogger("medpuls.privacy")

ERASED_NAME = "—"


# --- the notice ---------------------------------------------------------------------------


def privacy_notice(t: Translator, settings: Settings | None = None) -> Message:
    """The short notice every member sees on first contact, and on `privatliv` / `privacy`."""
    s = settings or Settings()
    body = t(
        "privacy.body",
        minimum=s.min_group_size,
        comment_minimum=s.min_comment_group_size,
        months=s.retention_months,
    )
    return Message(
        summary=t("privacy.title"),
        parts=[
            Header(text=t("privacy.title")),
            Text(text=body),
            SmallPrint(text=t("privacy.more")),
        ],
    )


def privacy_notice_once(member: Member, settings: Settings) -> list[Outgoing]:
    """The notice for a member who has not had it yet, marked as had; else nothing.

    For the first DM of any flow: queue what this returns before that flow's own message.
    The dedupe key makes a second call, or a second scheduler, harmless.
    """
    if member.seen_privacy_notice or member.erased:
        return []
    member.seen_privacy_notice = True
    t = translator(language(member, settings.language))
    return [
        to_member(
            member.id,
            f"privacy:{member.id}:notice",
            privacy_notice(t, settings),
            purpose="privacy",
        )
    ]


def on_privacy(ctx: FlowContext, event: CommandInvoked) -> Reply:
    if ctx.member is not None:
        ctx.member.seen_privacy_notice = True
    return Reply(notice=privacy_notice(ctx.t, ctx.settings))


def on_joined(ctx: FlowContext, event: MemberJoined) -> Reply:
    if ctx.member is not None:
        ctx.send(*privacy_notice_once(ctx.member, ctx.settings))
    return NO_REPLY


def on_first_message(ctx: FlowContext, event: MessageReceived) -> Reply:
    """Whoever writes to the bot before they ever heard from it gets the notice first."""
    if ctx.member is not None:
        ctx.send(*privacy_notice_once(ctx.member, ctx.settings))
    # Not an answer: other flows still handle the message.
    return NO_REPLY


# --- what we hold about a person -----------------------------------------------------------


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _member(session: Session, email: str) -> Member:
    member = member_by_email(session, email)
    if member is None or member.erased:
        raise NotFound(f"no member with e-mail {email.strip().lower()!r}")
    return member


def _reference_keys(member: Member, session: Session | None = None) -> list[str]:
    keys = [f"member:{member.id}"]
    keys += [f"user:{uid}" for uid in (member.slack_user_id, member.teams_user_id) if uid]
    if member.teams_aad_id:
        keys.append(f"user:{member.teams_aad_id}")
    if member.email:
        keys.append(f"email:{member.email.lower()}")
    if session is not None:
        # A reference found by e-mail (a Teams roster's) names the person's platform ids too,
        # whether or not the member row ever held them.
        for reference in session.scalars(
            select(ConversationReference.reference).where(ConversationReference.key.in_(keys))
        ):
            user = reference.get("user") if isinstance(reference, dict) else None
            if isinstance(user, dict):
                keys += [f"user:{user[k]}" for k in ("id", "aadObjectId") if user.get(k)]
    return sorted(set(keys))


def _open_answers(session: Session, member: Member, key: bytes) -> list[Answer]:
    """The person's answers in rounds still open: the only answers anyone can link to them."""
    rounds = session.execute(
        select(PulseRound.id, PulseRound.nonce)
        .join(Participation, Participation.round_id == PulseRound.id)
        .where(Participation.member_id == member.id, PulseRound.nonce.is_not(None))
    ).all()
    found: list[Answer] = []
    for round_id, nonce in rounds:
        if nonce is None:
            continue
        mine = respondent_key(key, nonce, member.id)
        found += session.scalars(
            select(Answer)
            .where(Answer.round_id == round_id, Answer.respondent_key == mine)
            .order_by(Answer.question_id)
        )
    return found


ANSWERS_NOTE = (
    "Answers of closed rounds are linked to nobody: at close they were re-keyed at "
    "random and the round's nonce was destroyed, so nobody (we, a database "
    "administrator, a backup) can find, show or delete them per person. Answers of "
    "rounds still open are stored under a key only this server can compute (from your "
    "member id, the round's nonce and the server's secret key, which is not in the "
    "database); they are listed under answers_in_open_rounds and unlinked at close."
)


def export_person(
    session: Session, email: str, *, now: dt.datetime, key: bytes | None = None
) -> dict[str, Any]:
    """Everything stored about the person with this e-mail, as JSON-ready data: with their
    answers in rounds still open (found with `key`, the "pulse-answers" subkey); answers of
    closed rounds are linked to nobody and cannot be listed."""
    m = _member(session, email)
    open_answers = _open_answers(session, m, key or in_force(PULSE_ANSWERS))
    alerts = session.get(ProposalAlerts, m.id)
    export: dict[str, Any] = {
        "exported_at": now.isoformat(),
        "identity": _identity(m),
        "units": _units(session, m),
        "participation": _participation(session, m),
        "answers": ANSWERS_NOTE,
        "answers_in_open_rounds": [
            {"round": a.round_id, "question": a.question_id, "value": a.value, "comment": a.comment}
            for a in open_answers
        ],
        "proposals": _proposals(session, m),
        "supported_proposals": _supported(session, m),
        **_governance(session, m),
        "proposal_alerts": alerts.mode if alerts else None,
        "digest_preference": _digest_preference(session, m),
        "audit_log": _audit_log(session, m),
        "conversation_references": _references(session, m),
        "messages_to_you": _messages(session, m),
    }
    # Audited once the audit log above has been read: the export lists it as it stood.
    session.add(audit_entry(None, "gdpr.export", f"member:{m.id}", allowed=True, now=now))
    return {**export, **_issue19_export(session, m), "meeting_apologies": _apologies(session, m)}


def _identity(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "email": m.email,
        "language": m.language,
        "slack_user_id": m.slack_user_id,
        "slack_team_id": m.slack_team_id,
        "teams_user_id": m.teams_user_id,
        "teams_aad_id": m.teams_aad_id,
        "paused_until": _iso(m.paused_until),
        "unreachable": m.unreachable,
        "seen_privacy_notice": m.seen_privacy_notice,
        "created_at": _iso(m.created_at),
    }


def _units(session: Session, m: Member) -> list[dict[str, Any]]:
    memberships = session.scalars(
        select(Membership).where(Membership.member_id == m.id).order_by(Membership.id)
    ).all()
    return [
        {"unit": ms.unit.path, "roles": sorted(ms.role_set), "since": _iso(ms.created_at)}
        for ms in memberships
    ]


def _participation(session: Session, m: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Participation, PulseRound)
        .join(PulseRound, PulseRound.id == Participation.round_id)
        .where(Participation.member_id == m.id)
        .order_by(PulseRound.opened_at)
    ).all()
    return [
        {
            "round": r.id,
            "unit": r.unit.path,
            "opened_at": _iso(r.opened_at),
            "closed_at": _iso(r.closed_at),
            "answered": p.answered,
            "reminders_sent": p.reminders_sent,
        }
        for p, r in rows
    ]


def _proposals(session: Session, m: Member) -> list[dict[str, Any]]:
    proposals = session.scalars(
        select(Proposal)
        .where(or_(Proposal.proposer_id == m.id, Proposal.presenter_id == m.id))
        .order_by(Proposal.id)
    ).all()
    return [
        {
            "id": p.id,
            "committee": p.committee.name,
            "title": p.title,
            "issue": p.issue,
            "why": p.why,
            "suggestion": p.suggestion,
            "status": p.status,
            "anonymous_to_committee": p.anonymous,
            "as": "proposer" if p.proposer_id == m.id else "presenter",
            "created_at": _iso(p.created_at),
        }
        for p in proposals
    ]


def _supported(session: Session, m: Member) -> list[dict[str, Any]]:
    supported = session.execute(
        select(Proposal.id, Proposal.title)
        .join(Support, Support.proposal_id == Proposal.id)
        .where(Support.member_id == m.id)
        .order_by(Proposal.id)
    ).all()
    return [{"id": pid, "title": title} for pid, title in supported]


def _governance(session: Session, m: Member) -> dict[str, list[dict[str, Any]]]:
    """The person's part in committees' governance: threshold requests, signatures, and
    requests to hide a comment (flows.governance, flows.approvals)."""
    changes = session.scalars(
        select(ThresholdChange).where(ThresholdChange.requested_by == m.id)
    ).all()
    signed = session.scalars(
        select(Approval).where(Approval.member_id == m.id).order_by(Approval.id)
    ).all()
    hides = session.scalars(
        select(HideRequest).where(HideRequest.requested_by == m.id).order_by(HideRequest.id)
    ).all()
    name = partial(_committee_name, session)
    return {
        "threshold_requests": [
            {
                "id": c.id,
                "committee": name(c.committee_id),
                "kind": c.kind,
                "value": c.value,
                "created_at": _iso(c.created_at),
                "effective_at": _iso(c.effective_at),
            }
            for c in changes
        ],
        "approvals": [
            {
                "committee": name(a.committee_id),
                "approved": a.subject,
                "side": a.side,
                "at": _iso(a.at),
            }
            for a in signed
        ],
        "comment_hide_requests": [
            {
                "committee": name(h.committee_id),
                "round": h.round_id,
                "reason": h.reason,
                "outcome": h.outcome,
                "created_at": _iso(h.created_at),
            }
            for h in hides
        ],
    }


def _digest_preference(session: Session, m: Member) -> dict[str, Any] | None:
    digest = session.get(DigestPreference, m.id)
    if digest is None:
        return None
    return {"weekday": digest.weekday, "local_time": digest.local_time, "paused": digest.paused}


def _audit_log(session: Session, m: Member) -> list[dict[str, Any]]:
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.actor_id == m.id).order_by(AuditEntry.at)
    ).all()
    return [
        {
            "at": _iso(a.at),
            "action": a.action,
            "subject": a.subject,
            "allowed": a.allowed,
            "detail": a.detail,
        }
        for a in audit
    ]


def _references(session: Session, m: Member) -> list[dict[str, Any]]:
    references = session.scalars(
        select(ConversationReference)
        .where(ConversationReference.key.in_(_reference_keys(m, session)))
        .order_by(ConversationReference.id)
    ).all()
    return [{"platform": r.platform, "key": r.key, "reference": r.reference} for r in references]


def _messages(session: Session, m: Member) -> list[dict[str, Any]]:
    """How many messages of each kind were sent (or are on their way) to the person."""
    rows = session.execute(
        select(OutboxMessage.purpose, OutboxMessage.status, func.count())
        .where(OutboxMessage.address_kind == "member", OutboxMessage.address == str(m.id))
        .group_by(OutboxMessage.purpose, OutboxMessage.status)
        .order_by(OutboxMessage.purpose, OutboxMessage.status)
    ).all()
    return [{"purpose": purpose, "status": status, "count": int(n)} for purpose, status, n in rows]


def _apologies(session: Session, m: Member) -> list[dict[str, Any]]:
    """The meetings the person sent (or a chair noted) apologies (afbud) for."""
    rows = session.execute(
        select(Meeting, MeetingAbsence.recorded_by)
        .join(MeetingAbsence, MeetingAbsence.meeting_id == Meeting.id)
        .where(MeetingAbsence.member_id == m.id)
        .order_by(Meeting.starts_at)
    ).all()
    return [
        {
            "committee": meeting.committee.name,
            "meeting": _iso(meeting.starts_at),
            "noted_by": "you" if by == m.id else "the committee's chair or vice-chair",
        }
        for meeting, by in rows
    ]


def _issue19_export(session: Session, m: Member) -> dict[str, Any]:
    """Actions the person owns or added, and conversations they started as a replier. Comments
    they wrote and their answers in a conversation are not linked to them (flows/replies/)."""
    actions = session.scalars(
        select(TeamAction)
        .where(or_(TeamAction.owner_id == m.id, TeamAction.created_by == m.id))
        .order_by(TeamAction.id)
    ).all()
    threads = session.scalars(
        select(CommentThread).where(CommentThread.replier_id == m.id).order_by(CommentThread.id)
    ).all()
    return {
        "actions": [
            {
                "id": a.id,
                "unit": a.unit.path,
                "text": a.text,
                "as": "owner" if a.owner_id == m.id else "added",
                "due_on": _iso(a.due_on),
                "status": a.status,
                "outcome": a.outcome,
            }
            for a in actions
        ],
        "comment_replies": [
            {
                "round": th.round_id,
                "status": th.status,
                "your_messages": list(
                    session.scalars(
                        select(ThreadMessage.text)
                        .where(ThreadMessage.thread_id == th.id, ThreadMessage.side == "replier")
                        .order_by(ThreadMessage.seq)
                    )
                ),
            }
            for th in threads
        ],
    }


def _committee_name(session: Session, committee_id: int) -> str:
    committee = session.get(Committee, committee_id)
    return committee.name if committee else ""


def erase_person(
    session: Session, email: str, *, now: dt.datetime, key: bytes | None = None
) -> int:
    """Remove the person's identity and keep what is anonymous; returns their member id.

    Name, e-mail and platform ids go; memberships, conversation references, digest and
    proposal-alert settings, unsent messages and their DM history are deleted; so are their
    answers in rounds still open (the only ones linked to them; found with `key`), and every
    click de-duplication row past its hour (those name nobody, but need not stay). Proposals
    keep their text but lose the link to the proposer or presenter and become anonymous.
    Participation rows and supports stay, pointing at a member row that no longer says who it
    was, so counts stay right. Answers of closed rounds and aggregates stay: nobody can link
    them; only the person's name is scrubbed out of stored comments (anyone's), while it can
    still be recognised.
    """
    m = _member(session, email)
    for answer in _open_answers(session, m, key or in_force(PULSE_ANSWERS)):
        session.delete(answer)
    forget_processed_events(session, now)
    keys = _reference_keys(m, session)
    session.execute(delete(ConversationReference).where(ConversationReference.key.in_(keys)))
    session.execute(delete(Membership).where(Membership.member_id == m.id))
    session.execute(delete(DigestPreference).where(DigestPreference.member_id == m.id))
    session.execute(delete(ProposalAlerts).where(ProposalAlerts.member_id == m.id))
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.address_kind == "member",
            OutboxMessage.address == str(m.id),
            OutboxMessage.status.in_(("pending", "unknown", "dead")),
        )
    )
    session.execute(delete(LocalMessage).where(LocalMessage.conversation == f"member:{m.id}"))
    # A shared rate limit's scope may be a conversation named by the person's id or e-mail.
    ids = [i for i in (m.email, m.slack_user_id, m.teams_user_id, m.teams_aad_id) if i]
    for person_id in ids:
        session.execute(delete(RateBucket).where(RateBucket.scope.contains(person_id)))
    for proposal in session.scalars(select(Proposal).where(Proposal.proposer_id == m.id)):
        proposal.proposer_id = None
        proposal.anonymous = True
    for proposal in session.scalars(select(Proposal).where(Proposal.presenter_id == m.id)):
        proposal.presenter_id = None
    # Once the name is gone from here the scrubber can no longer find it in a comment that is
    # shown later, so comments naming the person are scrubbed of the name now.
    for answer in session.scalars(select(Answer).where(Answer.comment.is_not(None))):
        cleaned = scrub(answer.comment or "", [m.name])
        if cleaned != answer.comment:
            answer.comment = cleaned
    m.name = ERASED_NAME
    m.email = None
    m.language = None
    m.language_chosen = False
    m.slack_user_id = m.slack_team_id = None
    m.teams_user_id = m.teams_aad_id = None
    m.paused_until = None
    m.unreachable = None
    m.erased = True
    session.add(audit_entry(None, "gdpr.erase", f"member:{m.id}", allowed=True, now=now))
    session.flush()
    log.info("member erased", extra={"member": m.id})
    return m.id


# --- retention ------------------------------------------------------------------------------


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months earlier (the 31st becomes the month's
    last day)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def delete_expired_answers(session: Session, *, now: dt.datetime, months: int) -> int:
    """Delete answers and comments of rounds closed more than `months` ago; returns rows gone.

    The aggregates (RoundResult) stay: they are all that is left of such a round.
    """
    cutoff = months_before(now, months)
    expired = select(PulseRound.id).where(
        PulseRound.closed_at.is_not(None), PulseRound.closed_at < cutoff
    )
    result = session.execute(delete(Answer).where(Answer.round_id.in_(expired)))
    # De-duplication rows past their hour go too (close does this as well).
    forget_processed_events(session, now)
    return max(int(result.rowcount), 0)  # type: ignore[attr-defined]


def image_expired(created_at: dt.datetime, *, now: dt.datetime, months: int) -> bool:
    """A chart made before the retention period: deleted by the job, never served."""
    return created_at < months_before(now, months)


def delete_expired_images(session: Session, *, now: dt.datetime, months: int) -> int:
    """Delete chart images made more than `months` ago; returns rows gone.

    A chart's link lives on in old Teams cards and chats; its picture does not outlive the
    answers it was drawn from.
    """
    cutoff = months_before(now, months)
    result = session.execute(delete(StoredImage).where(StoredImage.created_at < cutoff))
    return max(int(result.rowcount), 0)  # type: ignore[attr-defined]


def apply_retention(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: safe to run twice, the second run finds nothing left to delete."""
    months = settings.retention_months
    with db.session() as session:
        deleted = delete_expired_answers(session, now=now, months=months)
        images = delete_expired_images(session, now=now, months=months)
    if deleted or images:
        log.info(
            "retention applied",
            extra={"answers_deleted": deleted, "images_deleted": images, "months": months},
        )


JOBS = [apply_retention]


def register(router: Router) -> None:
    router.command("privatliv", "privacy")(on_privacy)
    router.joined(on_joined)
    router.message(on_first_message)
