"""Anonymous replies to published comments (issue 19, section 3).

A leader of the comment's unit (or the chair of a committee whose area holds it) replies to a
published comment; the reply reaches the comment's author without anyone, the database
included, learning who that is; the author can answer back and either side can end it.

How the reply finds the author without a link in the database:

- When the comment is written, the author's member id is sealed with AES-GCM under
  derive_key(MEDPULS_SECRET_KEY, "comment-replies"), with a random nonce, and stored beside
  the comment (`Answer.reply_capsule`). The key is in the environment, never in a table, so the
  database alone cannot open it; a random nonce makes two capsules of one author unequal.
- A reply is never addressed to the author. Every member asked in the comment's round gets the
  same notice ("a leader has replied to a comment from this round; if it was yours, read it
  here") through the outbox, so the outbox and the chat history are the same for all of them.
- Whoever clicks "read" is checked against the capsule in memory: the author sees the
  conversation as a private notice (never an outbox row, never a stored chat message); anyone
  else is told it is not theirs. Nothing of that check is written.
- The author's answers are stored as "author" lines of the conversation, without a member id,
  and the audit entry names no actor. The conversation row names the replier and the comment.

Whoever holds both the database and MEDPULS_SECRET_KEY (the operator) can open a capsule;
docs/flows/actions.md and the privacy texts say so.
"""

from __future__ import annotations

import logging
import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted
from bot.core.i18n import Translator, chosen_language, translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Field_,
    Form,
    Header,
    Message,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import queue_to_members, to_member
from bot.core.router import FlowContext, Router
from bot.core.secret_key import derive_key, parse_secret_key
from flows.agenda import CHAIR_ROLES
from flows.governance import chaired, publishable_comments
from flows.pulse import committees_over
from flows.scrub import scrub
from storage.audit import audit_entry
from storage.models import (
    Answer,
    CommentThread,
    Member,
    Membership,
    Participation,
    PulseRound,
    ThreadMessage,
    Unit,
)
from storage.queries import ancestors

__all__ = [
    "AuthorAnswer",
    "AuthorOpen",
    "ReplierForm",
    "ReplyAgain",
    "ReplyEnd",
    "ReplyOff",
    "ReplyRead",
    "ReplyStart",
    "open_capsule",
    "register",
    "seal_author",
]

log = logging.getLogger(__name__)

PURPOSE = "comment-replies"
AAD = b"medpuls:comment-reply:v1"
TEXT_MAX = 1000


# --- the capsule ------------------------------------------------------------------------------


def _aead(settings: Settings) -> AESGCM | None:
    if settings.secret_key is None:
        return None
    key = parse_secret_key(settings.secret_key.get_secret_value())
    return AESGCM(derive_key(key, PURPOSE))


def seal_author(settings: Settings, member_id: int) -> bytes | None:
    """The member id sealed for replies; None (no replies) without MEDPULS_SECRET_KEY."""
    aead = _aead(settings)
    if aead is None:
        return None
    nonce = secrets.token_bytes(12)
    return nonce + aead.encrypt(nonce, struct.pack(">Q", member_id), AAD)


def open_capsule(settings: Settings, capsule: bytes | None) -> int | None:
    """The author's member id, or None (no capsule, no key, or not ours)."""
    aead = _aead(settings)
    if aead is None or capsule is None or len(capsule) < 13:
        return None
    try:
        return int(struct.unpack(">Q", aead.decrypt(capsule[:12], capsule[12:], AAD))[0])
    except (InvalidTag, struct.error):
        return None


# --- actions ----------------------------------------------------------------------------------


class ReplyStart(ActionData):
    """A leader or chair opens the reply form under a comment (round, question, answer key)."""

    kind = "replies.start"
    r: int
    q: str
    k: str


class ReplierForm(ActionData):
    kind = "replies.send"
    r: int
    q: str
    k: str


class ReplyAgain(ActionData):
    """The replier writes again in an open conversation."""

    kind = "replies.again"
    t: str


class ReplyRead(ActionData):
    """ "Read the reply" on the notice every member asked in the round gets."""

    kind = "replies.read"
    t: str


class AuthorOpen(ActionData):
    kind = "replies.answer_open"
    t: str


class AuthorAnswer(ActionData):
    kind = "replies.answer"
    t: str


class ReplyEnd(ActionData):
    kind = "replies.end"
    t: str


class ReplyOff(ActionData):
    """The author ends the conversation and switches replies to the comment off."""

    kind = "replies.off"
    t: str


# --- helpers ----------------------------------------------------------------------------------


def _names(session: Session) -> list[str]:
    return list(session.scalars(select(Member.name).where(Member.erased.is_(False))))


def names_someone(session: Session, text: str) -> bool:
    """True when the scrubber would take something out: a name, mention, address or number."""
    return scrub(text, _names(session)) != text


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


def _thread(session: Session, thread_id: str) -> tuple[CommentThread, Answer | None] | None:
    thread = session.get(CommentThread, thread_id)
    if thread is None:
        return None
    answer = session.get(Answer, (thread.round_id, thread.question_id, thread.respondent_key))
    return thread, answer


def _messages(session: Session, thread: CommentThread) -> list[ThreadMessage]:
    return list(
        session.scalars(
            select(ThreadMessage)
            .where(ThreadMessage.thread_id == thread.id)
            .order_by(ThreadMessage.seq)
        )
    )


def _conversation_parts(
    session: Session, thread: CommentThread, answer: Answer | None, t: Translator, *, me: str
) -> list[Part]:
    comment = scrub(answer.comment or "", _names(session)) if answer else ""
    parts: list[Part] = [
        Header(text=t("replies.conversation_title")),
        Text(text=t("replies.the_comment", comment=comment), markdown=False),
        Divider(),
    ]
    for m in _messages(session, thread):
        who = t("replies.you") if m.side == me else t(f"replies.side_{m.side}")
        parts.append(Text(text=f"*{who}:* {m.text}"))
    if thread.status != "open":
        parts.append(SmallPrint(text=t("replies.ended")))
    return parts


def _next_seq(session: Session, thread: CommentThread) -> int:
    return (
        int(
            session.scalar(
                select(func.coalesce(func.max(ThreadMessage.seq), 0)).where(
                    ThreadMessage.thread_id == thread.id
                )
            )
            or 0
        )
        + 1
    )


def _broadcast(ctx: FlowContext, thread: CommentThread, seq: int) -> int:
    """The same notice to every member asked in the comment's round, whoever wrote it."""
    t = translator(ctx.settings.language)
    pulse_round = ctx.session.get(PulseRound, thread.round_id)
    assert pulse_round is not None
    date = t.date(pulse_round.opened_at.astimezone(ctx.settings.tz).date())
    text = t("replies.notice", unit=pulse_round.unit.name, date=date)
    message = Message(
        summary=text,
        parts=[
            Text(text=text),
            Buttons(buttons=[Button(label=t("replies.read"), data=ReplyRead(t=thread.id).pack())]),
            SmallPrint(text=t("replies.notice_small")),
        ],
    )
    asked = (
        select(Participation.member_id)
        .join(Member, Member.id == Participation.member_id)
        .where(Participation.round_id == thread.round_id, Member.erased.is_(False))
    )
    return queue_to_members(
        ctx.session,
        asked,
        key_prefix=f"replies:{thread.id}:{seq}:m",
        message=message,
        purpose="replies.notice",
    )


def _is_author(ctx: FlowContext, answer: Answer | None) -> bool:
    return (
        ctx.member is not None
        and answer is not None
        and open_capsule(ctx.settings, answer.reply_capsule) == ctx.member.id
    )


def _audit_author(ctx: FlowContext, action: str, thread: CommentThread) -> None:
    # The author's own steps are audited without an actor: naming them would be the link.
    ctx.session.add(audit_entry(None, action, f"thread:{thread.id}", allowed=True, now=ctx.now))


def _replier_form(t: Translator, r: int, q: str, k: str, comment: str) -> Form:
    return Form(
        data=ReplierForm(r=r, q=q, k=k).pack(),
        title=t("replies.form_title"),
        submit=t("replies.form_submit"),
        intro=t("replies.form_intro", comment=comment),
        fields=[
            Field_(name="text", label=t("replies.form_label"), kind="textarea", max_length=TEXT_MAX)
        ],
    )


# --- the replier's side -------------------------------------------------------------------------


def _comment(ctx: FlowContext, r: int, q: str, k: str) -> tuple[PulseRound | None, Answer | None]:
    return ctx.session.get(PulseRound, r), ctx.session.get(Answer, (r, q, k))


def on_start(ctx: FlowContext, event: ButtonClicked, data: ReplyStart) -> Reply:
    pulse_round, answer = _comment(ctx, data.r, data.q, data.k)
    return _open_replier_form(ctx, pulse_round, answer, data.r, data.q, data.k)


def _open_replier_form(
    ctx: FlowContext,
    pulse_round: PulseRound | None,
    answer: Answer | None,
    r: int,
    q: str,
    k: str,
) -> Reply:
    if _aead(ctx.settings) is None:
        return Reply.note(ctx.t("replies.no_key"))
    if pulse_round is None or not may_reply(ctx.session, ctx.member, pulse_round.unit):
        ctx.audit("reply.start", f"round:{r}", allowed=False)
        return Reply.note(ctx.t("replies.not_allowed"))
    reason = refusal(ctx.session, pulse_round, answer)
    if reason is not None:
        ctx.audit("reply.start", f"round:{r}", allowed=False, reason=reason.split(".")[-1])
        return Reply.note(ctx.t(reason))
    assert answer is not None
    comment = scrub(answer.comment or "", _names(ctx.session))
    return Reply(form=_replier_form(ctx.t, r, q, k, comment))


def on_replier_submit(ctx: FlowContext, event: FormSubmitted, data: ReplierForm) -> Reply:
    pulse_round, answer = _comment(ctx, data.r, data.q, data.k)
    if _aead(ctx.settings) is None:
        return Reply.note(ctx.t("replies.no_key"))
    if pulse_round is None or not may_reply(ctx.session, ctx.member, pulse_round.unit):
        ctx.audit("reply.send", f"round:{data.r}", allowed=False)
        return Reply.note(ctx.t("replies.not_allowed"))
    reason = refusal(ctx.session, pulse_round, answer)
    if reason is not None:
        ctx.audit("reply.send", f"round:{data.r}", allowed=False, reason=reason.split(".")[-1])
        return Reply.note(ctx.t(reason))
    text = (event.values.get("text") or "").strip()[:TEXT_MAX]
    if not text:
        return Reply(errors={"text": ctx.t("replies.empty")})
    if names_someone(ctx.session, text):
        return Reply(errors={"text": ctx.t("replies.names_someone")})
    assert ctx.member is not None
    thread = ctx.session.scalars(
        select(CommentThread).where(
            CommentThread.round_id == data.r,
            CommentThread.question_id == data.q,
            CommentThread.respondent_key == data.k,
            CommentThread.replier_id == ctx.member.id,
            CommentThread.status == "open",
        )
    ).first()
    if thread is None:
        thread = CommentThread(
            id=secrets.token_hex(16),
            round_id=data.r,
            question_id=data.q,
            respondent_key=data.k,
            replier_id=ctx.member.id,
        )
        ctx.session.add(thread)
        ctx.session.flush()
    seq = _next_seq(ctx.session, thread)
    ctx.session.add(ThreadMessage(thread_id=thread.id, seq=seq, side="replier", text=text))
    ctx.audit("reply.send", f"thread:{thread.id}", allowed=True, round=data.r)
    _broadcast(ctx, thread, seq)
    log.info("comment reply sent", extra={"round_id": data.r})
    return Reply.note(ctx.t("replies.sent"))


def on_again(ctx: FlowContext, event: ButtonClicked, data: ReplyAgain) -> Reply:
    found = _thread(ctx.session, data.t)
    if found is None:
        return Reply.note(ctx.t("replies.unknown"))
    thread, answer = found
    if ctx.member is None or thread.replier_id != ctx.member.id:
        ctx.audit("reply.send", f"thread:{data.t}", allowed=False)
        return Reply.note(ctx.t("replies.not_allowed"))
    if thread.status != "open":
        return Reply.note(ctx.t("replies.ended"))
    pulse_round = ctx.session.get(PulseRound, thread.round_id)
    return _open_replier_form(
        ctx, pulse_round, answer, thread.round_id, thread.question_id, thread.respondent_key
    )


# --- the author's side ---------------------------------------------------------------------------


def _author_view(ctx: FlowContext, thread: CommentThread, answer: Answer | None) -> Reply:
    parts = _conversation_parts(ctx.session, thread, answer, ctx.t, me="author")
    if thread.status == "open":
        parts.append(
            Buttons(
                buttons=[
                    Button(
                        label=ctx.t("replies.answer"),
                        data=AuthorOpen(t=thread.id).pack(),
                        style="primary",
                    ),
                    Button(label=ctx.t("replies.end"), data=ReplyEnd(t=thread.id).pack()),
                    Button(
                        label=ctx.t("replies.off"),
                        data=ReplyOff(t=thread.id).pack(),
                        style="danger",
                    ),
                ]
            )
        )
    parts.append(SmallPrint(text=ctx.t("replies.author_small")))
    # A notice, never an update: an update would change the stored copy of this member's
    # message (the local chat keeps it), and so mark them as the one who read it.
    return Reply(notice=Message(summary=ctx.t("replies.conversation_title"), parts=parts))


def on_read(ctx: FlowContext, event: ButtonClicked, data: ReplyRead) -> Reply:
    found = _thread(ctx.session, data.t)
    if found is None:
        return Reply.note(ctx.t("replies.unknown"))
    thread, answer = found
    if not _is_author(ctx, answer):
        return Reply.note(ctx.t("replies.not_yours"))
    return _author_view(ctx, thread, answer)


def on_author_open(ctx: FlowContext, event: ButtonClicked, data: AuthorOpen) -> Reply:
    found = _thread(ctx.session, data.t)
    if found is None or not _is_author(ctx, found[1]):
        return Reply.note(ctx.t("replies.not_yours"))
    if found[0].status != "open":
        return Reply.note(ctx.t("replies.ended"))
    t = ctx.t
    return Reply(
        form=Form(
            data=AuthorAnswer(t=data.t).pack(),
            title=t("replies.answer_title"),
            submit=t("replies.form_submit"),
            intro=t("replies.answer_intro"),
            fields=[
                Field_(
                    name="text", label=t("replies.form_label"), kind="textarea", max_length=TEXT_MAX
                )
            ],
        )
    )


def on_author_submit(ctx: FlowContext, event: FormSubmitted, data: AuthorAnswer) -> Reply:
    found = _thread(ctx.session, data.t)
    if found is None or not _is_author(ctx, found[1]):
        return Reply.note(ctx.t("replies.not_yours"))
    thread, _ = found
    if thread.status != "open":
        return Reply.note(ctx.t("replies.ended"))
    text = (event.values.get("text") or "").strip()[:TEXT_MAX]
    if not text:
        return Reply(errors={"text": ctx.t("replies.empty")})
    if names_someone(ctx.session, text):
        return Reply(errors={"text": ctx.t("replies.names_someone_author")})
    seq = _next_seq(ctx.session, thread)
    ctx.session.add(ThreadMessage(thread_id=thread.id, seq=seq, side="author", text=text))
    _audit_author(ctx, "reply.answer", thread)
    _tell_replier(ctx, thread, seq, "replies.answered")
    return Reply.note(ctx.t("replies.answer_sent"))


def _tell_replier(ctx: FlowContext, thread: CommentThread, seq: int, key: str) -> None:
    replier = ctx.session.get(Member, thread.replier_id) if thread.replier_id else None
    if replier is None or replier.erased:
        return
    rt = translator(chosen_language(replier.language, ctx.settings.language))
    answer = ctx.session.get(Answer, (thread.round_id, thread.question_id, thread.respondent_key))
    parts = _conversation_parts(ctx.session, thread, answer, rt, me="replier")
    parts.insert(1, Text(text=rt(key)))
    if thread.status == "open":
        parts.append(
            Buttons(
                buttons=[
                    Button(label=rt("replies.again"), data=ReplyAgain(t=thread.id).pack()),
                    Button(label=rt("replies.end"), data=ReplyEnd(t=thread.id).pack()),
                ]
            )
        )
    ctx.send(
        to_member(
            replier.id,
            f"replies:{thread.id}:{seq}:replier",
            Message(summary=rt(key), parts=parts),
            purpose="replies.replier",
        )
    )


def on_end(ctx: FlowContext, event: ButtonClicked, data: ReplyEnd) -> Reply:
    found = _thread(ctx.session, data.t)
    if found is None:
        return Reply.note(ctx.t("replies.unknown"))
    thread, answer = found
    replier = ctx.member is not None and thread.replier_id == ctx.member.id
    author = not replier and _is_author(ctx, answer)
    if not (replier or author):
        return Reply.note(ctx.t("replies.not_yours"))
    if thread.status == "open":
        thread.status = "ended"
        thread.ended_by = "replier" if replier else "author"
        if replier:
            ctx.audit("reply.end", f"thread:{thread.id}", allowed=True)
        else:
            _audit_author(ctx, "reply.end", thread)
            _tell_replier(ctx, thread, _next_seq(ctx.session, thread), "replies.author_ended")
    return Reply.note(ctx.t("replies.ended_now"))


def on_off(ctx: FlowContext, event: ButtonClicked, data: ReplyOff) -> Reply:
    found = _thread(ctx.session, data.t)
    if found is None or not _is_author(ctx, found[1]):
        return Reply.note(ctx.t("replies.not_yours"))
    thread, answer = found
    assert answer is not None
    # Without the capsule nobody, the operator included, can route a reply to this comment.
    answer.reply_capsule = None
    was_open = thread.status == "open"
    thread.status, thread.ended_by = "ended", thread.ended_by or "author"
    _audit_author(ctx, "reply.off", thread)
    if was_open:
        _tell_replier(ctx, thread, _next_seq(ctx.session, thread), "replies.author_ended")
    return Reply.note(ctx.t("replies.off_done"))


# --- the leader's list of comments to reply to ---------------------------------------------------


def _latest_comments(session: Session, unit_id: int) -> tuple[PulseRound | None, list[Answer]]:
    latest = session.scalars(
        select(PulseRound)
        .where(PulseRound.unit_id == unit_id, PulseRound.closed_at.is_not(None))
        .order_by(PulseRound.closed_at.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None, []
    answers = session.scalars(
        select(Answer).where(
            Answer.round_id == latest.id, Answer.comment.is_not(None), Answer.hidden.is_(False)
        )
    ).all()
    return latest, list(answers)


def on_replies_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """The comments the member may reply to: as a leader, the latest closed round's comments of
    each unit they lead; as a chair, the comments shown to their committee. Each has a button,
    or the plain reason why it cannot be answered."""
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    t = ctx.t
    if _aead(ctx.settings) is None:
        return Reply.note(t("replies.no_key"))
    sections: list[tuple[str, list[Answer]]] = []
    led = sorted(
        ms.unit_id
        for ms in ctx.session.scalars(select(Membership).where(Membership.member_id == member.id))
        if "leader" in ms.role_set
    )
    for unit_id in led:
        latest, answers = _latest_comments(ctx.session, unit_id)
        if latest is not None and answers:
            ctx.audit("comments.view", f"round:{latest.id}", allowed=True, via="replies")
            sections.append((latest.unit.name, answers))
    for committee in chaired(ctx.session, member):
        groups, _ = publishable_comments(ctx.session, committee)
        if groups:
            ctx.audit("comments.view", f"committee:{committee.id}", allowed=True, via="replies")
        sections.extend((f"{committee.name} · {unit.name}", answers) for unit, answers in groups)
    parts: list[Part] = [Header(text=t("replies.list_title"))]
    names = _names(ctx.session)
    seen: set[tuple[int, str, str]] = set()
    shown = 0
    for title, answers in sections:
        parts.extend([Divider(), Text(text=f"*{title}*")])
        for a in sorted(answers, key=lambda a: a.respondent_key):
            key = (a.round_id, a.question_id, a.respondent_key)
            if key in seen:
                continue
            seen.add(key)
            parts.append(Text(text=f"“{scrub(a.comment or '', names)}”", markdown=False))
            reason = refusal(ctx.session, ctx.session.get(PulseRound, a.round_id), a)
            if reason is not None:
                parts.append(SmallPrint(text=t(reason)))
                continue
            data = ReplyStart(r=a.round_id, q=a.question_id, k=a.respondent_key).pack()
            parts.append(Buttons(buttons=[Button(label=t("replies.reply"), data=data)]))
            shown += 1
    if shown == 0:
        parts.append(Text(text=t("replies.none")))
    return Reply(notice=Message(summary=t("replies.list_title"), parts=parts))


REPLY_WORDS = ("svar", "replies")


def register(router: Router) -> None:
    router.command(*REPLY_WORDS)(on_replies_command)
    router.action(ReplyStart)(on_start)
    router.form(ReplierForm, limits={"text": TEXT_MAX})(on_replier_submit)
    router.action(ReplyAgain)(on_again)
    router.action(ReplyRead)(on_read)
    router.action(AuthorOpen)(on_author_open)
    router.form(AuthorAnswer, limits={"text": TEXT_MAX})(on_author_submit)
    router.action(ReplyEnd)(on_end)
    router.action(ReplyOff)(on_off)
