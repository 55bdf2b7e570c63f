"""The pulse round: open_round, record_answer, comments, close_round, and the scheduler job
that opens rounds by each unit's schedule (open_due_rounds).

Anonymity lives here as much as in the schema (docs/privacy.md): an answer is stored under
HMAC(K, round nonce || member id), where K is the "pulse-answers" subkey of
MEDPULS_SECRET_KEY, which never enters the database. So while the round is open a member can
change their answer, and nobody holding only the database can tell whose it is; only someone
holding both the database and the server's key could. Recording an answer writes nothing
else: no participation flag (it would share the answer's transaction, and its timing), so
while open "has answered" is computed from the keys (answered_members). close_round
aggregates in SQL, sets every participation flag at once, destroys the nonce, and rewrites the
round's answers under random keys in random order, so neither a key nor the physical row
order links an answer to a member or to a moment; storage.scrub then removes the old row
versions from the database files.

Who is asked is fixed when the round opens: members of the unit who are neither paused nor
unreachable get a Participation row and a DM. Someone who joins the unit later is asked from
the next round; someone who pauses later is not reminded (flows.reminders).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.errors import BankError, InvalidInput, NotAllowed, NotFound, RoundClosed
from bot.core.events import ButtonClicked, FormSubmitted, MessageRef
from bot.core.i18n import LANGUAGES, Lang, Translator, chosen_language, translator
from bot.core.messages import (
    Button,
    Buttons,
    Field_,
    Form,
    Header,
    Message,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.metrics import METRICS
from bot.core.outbox import queue, queue_to_members, still_wanted_if, to_unit_channel, update_of
from bot.core.router import FlowContext, Router
from bot.core.secret_key import PULSE_ANSWERS, subkey
from flows.pooling import standing_text
from flows.question_bank import Question as BankQuestion
from flows.question_bank import (
    QuestionBank,
    default_bank,
    pick_questions,
    question_bank,
)
from flows.schedule import ScheduleSpec, due_runs, period_start, rotation_slot
from flows.schedule import closes_at as schedule_closes_at
from storage.db import Database
from storage.dedupe import forget_processed_events
from storage.models import (
    Answer,
    Committee,
    Member,
    Membership,
    OutboxMessage,
    Participation,
    PulseRound,
    Question,
    RoundQuestion,
    RoundResult,
    Schedule,
    Unit,
    utcnow,
)
from storage.queries import ancestors, members_of, subtree, unit_by_path
from storage.scrub import WAIT_SECONDS as SCRUB_WAIT
from storage.scrub import scrub_after_close

log = logging.getLogger("medpuls.pulse")

SCALE = (1, 2, 3, 4, 5)


class PulseAnswer(ActionData):
    kind = "pulse.answer"
    r: int
    q: str
    v: int


class PulseCommentOpen(ActionData):
    kind = "pulse.comment"
    r: int


class PulseCommentForm(ActionData):
    kind = "pulse.comment_form"
    r: int


class PulseRules(ActionData):
    """The "how you are anonymous" button; `r` is the round it sits under, if any."""

    kind = "pulse.rules"
    r: int | None = None


# --- helpers ------------------------------------------------------------------------------


def respondent_key(key: bytes, nonce: bytes, member_id: int) -> str:
    """An open round's answer key: HMAC(K, nonce || member id); K = answers_key(settings)."""
    return hmac.new(key, nonce + b"|" + str(member_id).encode(), hashlib.sha256).hexdigest()


def answers_key(settings: Settings) -> bytes:
    """K: the "pulse-answers" subkey of MEDPULS_SECRET_KEY (kept outside the database)."""
    return subkey(settings, PULSE_ANSWERS)


def score(mean: float) -> float:
    """A 1-5 mean on the 0-100 scale."""
    return (mean - 1.0) * 25.0


def language(member: Member, default: Lang) -> Lang:
    return chosen_language(member.language, default)


def question_text(q: Question, lang: Lang) -> tuple[str, str, str]:
    if lang == "en":
        return q.text_en, q.low_en, q.high_en
    return q.text_da, q.low_da, q.high_da


def local_today(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return now.astimezone(tz).date()


def is_paused(member: Member, today: dt.date) -> bool:
    """Paused members are neither asked nor reminded; `paused_until` is inclusive."""
    return member.paused_until is not None and member.paused_until >= today


def check_question_bank(settings: Settings) -> QuestionBank:
    """Load the bank at start; a broken file stops `serve`/`worker` with file, line and reason."""
    try:
        return question_bank(settings)
    except BankError as err:
        raise InvalidInput(f"question bank: {err}") from None


# --- opening --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    round_id: int
    unit_id: int
    asked: int


def open_round(
    session: Session,
    unit: Unit,
    question_ids: Sequence[str],
    *,
    now: dt.datetime,
    closes_at: dt.datetime,
    min_group_size: int,
    min_comment_group_size: int,
    default_language: Lang,
    tz: dt.tzinfo,
    schedule_id: int | None = None,
    period: str | None = None,
) -> Opened:
    """Create the round and queue one DM per member, in one batch (not a round-trip each).

    Only members of the unit now, not paused and reachable, are asked; the first DM a member
    ever gets carries the rules of anonymity in full.
    """
    started = utcnow()
    pulse_round = PulseRound(
        unit_id=unit.id,
        schedule_id=schedule_id,
        period=period,
        opened_at=now,
        closes_at=closes_at,
        nonce=secrets.token_bytes(32),
        min_group_size=min_group_size,
        min_comment_group_size=min_comment_group_size,
    )
    for position, qid in enumerate(question_ids):
        pulse_round.questions.append(RoundQuestion(question_id=qid, position=position))
    session.add(pulse_round)
    session.flush()
    today = local_today(now, tz)
    # Everything below runs in the database (INSERT ... SELECT): no row per member passes
    # through Python, so a unit of 50,000 is a handful of statements.
    eligible = (
        select(literal(pulse_round.id), Member.id)
        .join(Membership, Membership.member_id == Member.id)
        .where(
            Membership.unit_id == unit.id,
            Member.erased.is_(False),
            Member.unreachable.is_(None),
            or_(Member.paused_until.is_(None), Member.paused_until < today),
        )
    )
    session.execute(insert(Participation).from_select(["round_id", "member_id"], eligible))
    questions = [rq.question for rq in pulse_round.questions]
    asked_here = select(Participation.member_id).where(Participation.round_id == pulse_round.id)
    for lang in LANGUAGES:
        speaks = Member.language == lang
        if lang == default_language:
            speaks = or_(speaks, Member.language.is_(None), Member.language.not_in(LANGUAGES))
        for first_time in (True, False):
            message = ask_message(
                pulse_round, unit, questions, translator(lang), tz=tz, rules=first_time
            )
            queue_to_members(
                session,
                select(Member.id).where(
                    Member.id.in_(asked_here),
                    speaks,
                    Member.seen_privacy_notice.is_(not first_time),
                ),
                key_prefix=f"pulse:{pulse_round.id}:ask:",
                message=message,
                purpose="pulse.ask",
                round_id=pulse_round.id,
            )
    session.execute(
        update(Member)
        .where(Member.id.in_(asked_here), Member.seen_privacy_notice.is_(False))
        .values(seen_privacy_notice=True)
        .execution_options(synchronize_session=False)
    )
    asked = session.scalar(select(func.count()).select_from(asked_here.subquery())) or 0
    METRICS.round_seconds.labels(step="open").observe((utcnow() - started).total_seconds())
    log.info("round opened", extra={"round_id": pulse_round.id, "unit": unit.id, "count": asked})
    return Opened(pulse_round.id, unit.id, asked)


def rules_text(t: Translator, *, minimum: int, parent: str | None) -> str:
    """The rules of anonymity in plain words, for the first DM and on request."""
    rollup = (
        t("pulse.rules_rollup_parent", parent=parent) if parent else t("pulse.rules_rollup_none")
    )
    return t("pulse.rules_body", minimum=minimum, rollup=rollup)


def rules_message(t: Translator, *, minimum: int, parent: str | None) -> Message:
    text = rules_text(t, minimum=minimum, parent=parent)
    return Message(
        summary=t("pulse.rules_title"),
        parts=[Header(text=t("pulse.rules_title")), Text(text=text)],
    )


def comments_where(pulse_round: PulseRound, unit: Unit, t: Translator) -> str:
    """Where this round's comments can be shown: the unit's channel, or pooled in a channel
    above it (flows.disclosure.comment_home goes up to the nearest unit with enough people)."""
    above: list[str] = []
    node = unit.parent
    while node is not None:
        above.append(node.name)
        node = node.parent
    minimum = pulse_round.min_comment_group_size
    if not above:
        return t("pulse.comments_where_top", unit=unit.name, minimum=minimum)
    return t(
        "pulse.comments_where",
        unit=unit.name,
        minimum=minimum,
        above=t("pulse.comments_where_or").join(above),
    )


def ask_message(
    pulse_round: PulseRound,
    unit: Unit,
    questions: Sequence[Question],
    t: Translator,
    *,
    tz: dt.tzinfo,
    rules: bool = False,
    intro: str | None = None,
) -> Message:
    """The DM: each question with a 1-5 row of buttons right in the message.

    `rules` adds the full rules of anonymity (a member's first DM); `intro` replaces the
    opening line (reminders). The message never marks a choice: the platforms keep every
    version of it (exports, eDiscovery), so it is the same for everyone, answered or not, and
    the choice is confirmed only by `answer_noted`, which no platform stores.
    """
    closes = pulse_round.closes_at.astimezone(tz)
    parts: list[object] = [
        Header(text=t("pulse.ask_title")),
        Text(text=intro or t("pulse.ask_intro", unit=unit.name)),
    ]
    if rules:
        parent = unit.parent.name if unit.parent else None
        parts.append(Text(text=rules_text(t, minimum=pulse_round.min_group_size, parent=parent)))
    for q in questions:
        text, low, high = question_text(q, t.lang)
        parts.append(
            Buttons(
                label=text,
                ends=(f"1 = {low}", f"5 = {high}"),
                buttons=[
                    Button(
                        label=str(v),
                        data=PulseAnswer(r=pulse_round.id, q=q.id, v=v).pack(),
                    )
                    for v in SCALE
                ],
            )
        )
    # Where comments go, before anyone writes one: a small unit's comments may be shown in a
    # channel above it, to people outside the unit (issue 13, finding 4).
    parts.append(SmallPrint(text=comments_where(pulse_round, unit, t)))
    parts.append(
        Buttons(
            buttons=[
                Button(
                    label=t("pulse.add_comment"), data=PulseCommentOpen(r=pulse_round.id).pack()
                ),
                Button(label=t("pulse.rules_button"), data=PulseRules(r=pulse_round.id).pack()),
            ]
        )
    )
    parts.append(SmallPrint(text=t("pulse.rules_short", closes=t.weekday_time(closes))))
    return Message(summary=t("pulse.ask_summary", unit=unit.name), parts=parts)


# --- answering ------------------------------------------------------------------------------


def _open_round_for(ctx: FlowContext, round_id: int) -> tuple[PulseRound, Member, Participation]:
    member = ctx.member
    if member is None:
        raise NotFound(ctx.t("common.unknown_user"))
    pulse_round = ctx.session.get(PulseRound, round_id)
    if pulse_round is None:
        raise NotFound(ctx.t("pulse.no_such_round"))
    participation = ctx.session.get(Participation, (round_id, member.id))
    if participation is None:
        raise NotAllowed(ctx.t("pulse.not_asked"))
    if not pulse_round.is_open or pulse_round.nonce is None:
        raise RoundClosed(ctx.t("pulse.round_closed"))
    return pulse_round, member, participation


def record_answer(
    session: Session,
    pulse_round: PulseRound,
    participation: Participation,
    question_id: str,
    value: int,
    *,
    key: bytes,
) -> None:
    """Store or replace the member's answer; safe to repeat (a double click stores one).

    Writes the answer row only: `participation.answered` is set at close (close_round)."""
    assert pulse_round.nonce is not None
    rkey = respondent_key(key, pulse_round.nonce, participation.member_id)
    existing = session.get(Answer, (pulse_round.id, question_id, rkey))
    if existing is None:
        session.add(
            Answer(
                round_id=pulse_round.id, question_id=question_id, respondent_key=rkey, value=value
            )
        )
    else:
        existing.value = value


def my_answers(
    session: Session, pulse_round: PulseRound, member_id: int, *, key: bytes
) -> dict[str, int]:
    """The member's answers in an open round (needs K: nobody with the database alone)."""
    assert pulse_round.nonce is not None
    rkey = respondent_key(key, pulse_round.nonce, member_id)
    rows = session.execute(
        select(Answer.question_id, Answer.value).where(
            Answer.round_id == pulse_round.id, Answer.respondent_key == rkey
        )
    )
    return {qid: value for qid, value in rows}


def answered_members(
    session: Session, pulse_round: PulseRound, *, key: bytes, member_ids: Sequence[int] = ()
) -> set[int]:
    """Who has answered (at least one question): from the keys while the round is open, from
    the participation flags once it has closed. `member_ids` narrows the question."""
    if pulse_round.nonce is None:
        flagged = select(Participation.member_id).where(
            Participation.round_id == pulse_round.id, Participation.answered.is_(True)
        )
        if member_ids:
            flagged = flagged.where(Participation.member_id.in_(list(member_ids)))
        return set(session.scalars(flagged))
    keys = set(
        session.scalars(
            select(Answer.respondent_key).where(Answer.round_id == pulse_round.id).distinct()
        )
    )
    if not keys:
        return set()
    asked = list(member_ids) or list(
        session.scalars(
            select(Participation.member_id).where(Participation.round_id == pulse_round.id)
        )
    )
    nonce = pulse_round.nonce
    return {m for m in asked if respondent_key(key, nonce, m) in keys}


def on_answer(ctx: FlowContext, event: ButtonClicked, data: PulseAnswer) -> Reply:
    closed = closed_reply(ctx, data.r)
    if closed is not None:
        return closed
    pulse_round, _, participation = _open_round_for(ctx, data.r)
    question_ids = [rq.question_id for rq in pulse_round.questions]
    if data.q not in question_ids or data.v not in SCALE:
        return Reply()
    record_answer(
        ctx.session, pulse_round, participation, data.q, data.v, key=answers_key(ctx.settings)
    )
    question = next(rq.question for rq in pulse_round.questions if rq.question_id == data.q)
    # Not an update of the DM: a marked button would stay in the platform's copy of it.
    return Reply(transient=answer_noted(pulse_round, question, data.v, ctx.t, tz=ctx.settings.tz))


def answer_noted(
    pulse_round: PulseRound, question: Question, value: int, t: Translator, *, tz: dt.tzinfo
) -> Message:
    """The confirmation of one click, for the clicker's eyes only (Reply.transient)."""
    text = t(
        "pulse.answer_noted",
        value=value,
        question=question_text(question, t.lang)[0],
        until=t.weekday_time(pulse_round.closes_at.astimezone(tz)),
    )
    return Message(summary=text, parts=[Text(text=text)])


def on_comment_open(ctx: FlowContext, event: ButtonClicked, data: PulseCommentOpen) -> Reply:
    closed = closed_reply(ctx, data.r)
    if closed is not None:
        return closed
    pulse_round, _, _ = _open_round_for(ctx, data.r)
    return Reply(form=comment_form(pulse_round, ctx.t))


def comment_form(pulse_round: PulseRound, t: Translator) -> Form:
    return Form(
        data=PulseCommentForm(r=pulse_round.id).pack(),
        title=t("pulse.comment_title"),
        submit=t("pulse.comment_submit"),
        intro=t("pulse.comment_intro"),
        fields=[
            Field_(
                name="comment", label=t("pulse.comment_label"), kind="textarea", max_length=1000
            ),
            # Issue 19: the author's first word on replies is here, and they can say no.
            Field_(
                name="replies",
                label=t("replies.allow_label"),
                kind="checkbox",
                required=False,
                initial="true",
                hint=t("replies.allow_hint"),
            ),
        ],
    )


def on_comment_submit(ctx: FlowContext, event: FormSubmitted, data: PulseCommentForm) -> Reply:
    pulse_round, member, _ = _open_round_for(ctx, data.r)
    text = (event.values.get("comment") or "").strip()[:1000]
    if not text:
        return Reply(errors={"comment": ctx.t("pulse.comment_empty")})
    assert pulse_round.nonce is not None
    key = respondent_key(answers_key(ctx.settings), pulse_round.nonce, member.id)
    # The comment rides on the member's answer to the round's first question they answered,
    # so it is unlinked together with that answer at close.
    answers = ctx.session.scalars(
        select(Answer)
        .where(Answer.round_id == pulse_round.id, Answer.respondent_key == key)
        .order_by(Answer.question_id)
    ).all()
    if not answers:
        return Reply(transient=_note(ctx.t("pulse.comment_needs_answer")))
    answers[0].comment = text
    from flows.replies import seal_author  # issue 19's replies live in their own module

    allow = (event.values.get("replies") or "").lower() in ("true", "1", "yes", "on")
    capsule = seal_author(ctx.settings, member.id) if allow else None
    answers[0].reply_capsule = capsule
    saved = ctx.t("pulse.comment_saved")
    on_off = "replies.comment_saved_" + ("on" if capsule else "off" if not allow else "unavailable")
    # Transient like the answer's confirmation: a kept note would say she answered and commented.
    return Reply(transient=_note(f"{saved}\n{ctx.t(on_off)}"))


def on_rules(ctx: FlowContext, event: ButtonClicked, data: PulseRules) -> Reply:
    pulse_round = ctx.session.get(PulseRound, data.r) if data.r is not None else None
    if pulse_round is not None:
        parent = pulse_round.unit.parent
        return Reply(
            notice=rules_message(
                ctx.t,
                minimum=pulse_round.min_group_size,
                parent=parent.name if parent else None,
            )
        )
    return Reply(notice=rules_for_member(ctx))


def rules_for_member(ctx: FlowContext) -> Message:
    """The rules with the threshold and roll-up of the acting member's (first) unit."""
    minimum, parent = ctx.settings.min_group_size, None
    if ctx.member is not None and ctx.member.memberships:
        unit = min(ctx.member.memberships, key=lambda ms: ms.unit.path).unit
        minimum = thresholds_for(ctx.session, unit, ctx.settings)[0]
        parent = unit.parent.name if unit.parent else None
    return rules_message(ctx.t, minimum=minimum, parent=parent)


def _note(text: str) -> Message:
    return Message(summary=text, parts=[Text(text=text)])


# --- closing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    respondents: int
    mean: float
    favourable: int
    neutral: int
    unfavourable: int


def aggregate(session: Session, round_id: int) -> list[QuestionResult]:
    """Per question figures, computed by the database (GROUP BY), not in Python."""
    rows = session.execute(
        select(
            Answer.question_id,
            func.count(),
            func.sum(Answer.value),
            func.sum(case((Answer.value >= 4, 1), else_=0)),
            func.sum(case((Answer.value == 3, 1), else_=0)),
            func.sum(case((Answer.value <= 2, 1), else_=0)),
        )
        .where(Answer.round_id == round_id)
        .group_by(Answer.question_id)
    ).all()
    return [
        QuestionResult(qid, int(n), float(total) / int(n), int(fav), int(neu), int(unf))
        for qid, n, total, fav, neu, unf in rows
    ]


def close_round(
    session: Session,
    pulse_round: PulseRound,
    *,
    now: dt.datetime,
    default_language: Lang,
    key: bytes,
) -> None:
    """Aggregate, set who answered, unlink every answer, and queue the summary.

    One transaction. The caller runs storage.scrub.scrub_after_close once it has committed,
    so that the old row versions (nonce, keys) leave the database files too.
    """
    if not pulse_round.is_open:
        return
    started = utcnow()
    results = aggregate(session, pulse_round.id)
    dims = {rq.question_id: rq.question.dimension for rq in pulse_round.questions}
    for r in results:
        session.add(
            RoundResult(
                round_id=pulse_round.id,
                question_id=r.question_id,
                dimension=dims.get(r.question_id, ""),
                respondents=r.respondents,
                value_sum=round(r.mean * r.respondents),
                favourable=r.favourable,
                neutral=r.neutral,
                unfavourable=r.unfavourable,
            )
        )
    mark_answered(session, pulse_round, key=key)
    unlink_answers(session, pulse_round.id)
    pulse_round.nonce = None
    pulse_round.closed_at = now
    pulse_round.scrub_pending = True
    # The round's click de-duplication rows go with it (those of the last hour stay until
    # their hour is up: a retried click must still find its row; they name nobody).
    forget_processed_events(session, now)
    session.flush()
    from flows.summary import round_summary  # the summary (issue 6) lives in its own module

    message = round_summary(session, pulse_round, translator(default_language))
    queue(
        session,
        [
            to_unit_channel(
                pulse_round.unit_id,
                f"pulse:{pulse_round.id}:summary",
                message,
                purpose="pulse.summary",
                round_id=pulse_round.id,
            )
        ],
    )
    METRICS.round_seconds.labels(step="close").observe((utcnow() - started).total_seconds())
    log.info("round closed", extra={"round_id": pulse_round.id, "unit": pulse_round.unit_id})


# Rows per UPDATE ... IN (...): well under SQLite's limit of bound parameters.
MARK_CHUNK = 5000


def mark_answered(session: Session, pulse_round: PulseRound, *, key: bytes) -> None:
    """Set `answered` for everyone who answered, all in the closing transaction and in random
    order, so neither a transaction id, nor an order, nor a time pairs a flag with an answer."""
    answered = list(answered_members(session, pulse_round, key=key))
    random.SystemRandom().shuffle(answered)
    for start in range(0, len(answered), MARK_CHUNK):
        session.execute(
            update(Participation)
            .where(
                Participation.round_id == pulse_round.id,
                Participation.member_id.in_(answered[start : start + MARK_CHUNK]),
            )
            .values(answered=True)
            .execution_options(synchronize_session=False)
        )


def unlink_answers(session: Session, round_id: int) -> None:
    """Re-key the round's answers at random and re-insert them in random order."""
    rows = session.execute(
        select(Answer.question_id, Answer.value, Answer.comment, Answer.reply_capsule).where(
            Answer.round_id == round_id
        )
    ).all()
    session.execute(delete(Answer).where(Answer.round_id == round_id))
    shuffled = [
        {"question_id": q, "value": v, "comment": c, "reply_capsule": cap} for q, v, c, cap in rows
    ]
    random.SystemRandom().shuffle(shuffled)
    if shuffled:
        session.execute(
            insert(Answer),
            [
                {
                    "round_id": round_id,
                    "respondent_key": secrets.token_hex(16),
                    "hidden": False,
                    **r,
                }
                for r in shuffled
            ],
        )


# --- the DMs after close ----------------------------------------------------------------------

# Every DM that carries a round's buttons: the question and the reminders.
PULSE_DMS = ("pulse.ask", "pulse.remind", "pulse.remind_all")
CLOSED_PURPOSE = "pulse.closed"
# Rounds closed longer ago than this are not looked at again for DMs still to rewrite: by then
# every send that was under way at the close has long finished.
REWRITE_WINDOW = dt.timedelta(days=7)


def closed_message(unit: Unit, t: Translator, standing: str | None = None) -> Message:
    """What every pulse DM of a closed round becomes: no buttons, no choice, and the same text
    for everyone who was asked, so the message no longer says whether they answered, or what.
    `standing` (flows.pooling.standing_text) says where the unit's answers count when its
    figures are not shown alone: the same for the whole unit."""
    parts: list[Part] = [
        Header(text=t("pulse.ask_title")),
        Text(text=t("pulse.closed_body", unit=unit.name)),
    ]
    if standing:
        parts.append(Text(text=standing))
    return Message(summary=t("pulse.closed_summary", unit=unit.name), parts=parts)


def closed_reply(ctx: FlowContext, round_id: int) -> Reply | None:
    """A click on a closed round's DM (an old copy with live buttons): show the closed state in
    its place, instead of an error note. None where the round is open or the clicker was not
    asked (the usual checks then answer)."""
    pulse_round = ctx.session.get(PulseRound, round_id)
    if pulse_round is None or pulse_round.is_open or ctx.member is None:
        return None
    if ctx.session.get(Participation, (round_id, ctx.member.id)) is None:
        return None
    standing = standing_text(ctx.session, pulse_round, ctx.t)
    return Reply(update=closed_message(pulse_round.unit, ctx.t, standing))


@still_wanted_if("pulse.ask")
def round_still_open(session: Session, row: OutboxMessage) -> bool:
    """A question DM still queued when its round closes is not sent at all."""
    pulse_round = session.get(PulseRound, row.round_id) if row.round_id is not None else None
    return pulse_round is None or pulse_round.is_open


def queue_closed_rewrites(session: Session, pulse_round: PulseRound, default_language: Lang) -> int:
    """Queue an update of every pulse DM of the round already sent, to `closed_message`.

    Through the outbox, so it survives a crash and is sent once: one row per DM, keyed
    "pulse:<round>:closed:<outbox id of the DM>". Rows that are still on their way are found by
    `rewrite_closed_round_dms` once they are sent. Returns the rows added.
    """
    sent = session.execute(
        select(OutboxMessage.id, OutboxMessage.message_ref, Member.language)
        .outerjoin(Member, OutboxMessage.address == cast(Member.id, String))
        .where(
            OutboxMessage.round_id == pulse_round.id,
            OutboxMessage.purpose.in_(PULSE_DMS),
            OutboxMessage.address_kind == "member",
            OutboxMessage.status == "sent",
            OutboxMessage.message_ref.is_not(None),
        )
        .order_by(OutboxMessage.id)
    ).all()
    messages: dict[Lang, Message] = {}
    items = []
    for outbox_id, ref, member_language in sent:
        lang = chosen_language(member_language, default_language)
        if lang not in messages:
            t = translator(lang)
            standing = standing_text(session, pulse_round, t)
            messages[lang] = closed_message(pulse_round.unit, t, standing)
        platform, conversation, message_id = str(ref).split("|", 2)
        items.append(
            update_of(
                MessageRef(platform, conversation, message_id),  # type: ignore[arg-type]
                f"pulse:{pulse_round.id}:closed:{outbox_id}",
                messages[lang],
                purpose=CLOSED_PURPOSE,
                round_id=pulse_round.id,
            )
        )
    added = queue(session, items)
    if added:
        log.info("closed DMs queued", extra={"round_id": pulse_round.id, "count": added})
    return added


def rewrite_closed_round_dms(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: rewrite the DMs of recently closed rounds that were sent after the close
    queued its rewrites (a send under way at that moment). Idempotent by key."""
    rewrite = OutboxMessage.__table__.alias("rewrite")
    key = literal("pulse:") + cast(OutboxMessage.round_id, String) + literal(":closed:")
    with db.session() as session:
        round_ids = list(
            session.scalars(
                select(OutboxMessage.round_id)
                .join(PulseRound, PulseRound.id == OutboxMessage.round_id)
                .where(
                    PulseRound.closed_at.is_not(None),
                    PulseRound.closed_at >= now - REWRITE_WINDOW,
                    OutboxMessage.purpose.in_(PULSE_DMS),
                    OutboxMessage.status == "sent",
                    OutboxMessage.message_ref.is_not(None),
                    ~select(rewrite.c.id)
                    .where(rewrite.c.dedupe_key == key + cast(OutboxMessage.id, String))
                    .exists(),
                )
                .distinct()
            )
        )
    for round_id in round_ids:
        with db.session() as session:
            pulse_round = session.get(PulseRound, round_id)
            if pulse_round is not None and not pulse_round.is_open:
                queue_closed_rewrites(session, pulse_round, settings.language)


def register(router: Router) -> None:
    router.action(PulseAnswer)(on_answer)
    router.action(PulseCommentOpen)(on_comment_open)
    router.action(PulseRules)(on_rules)
    router.form(PulseCommentForm, limits={"comment": 1000})(on_comment_submit)


# --- question choice ------------------------------------------------------------------------


def sync_bank(session: Session, bank: QuestionBank | None = None) -> int:
    """Make the question bank's questions rows (ids never change; texts may)."""
    bank = bank or default_bank()
    existing = {
        q.id: q for q in session.scalars(select(Question).where(Question.id.in_(list(bank.by_id))))
    }
    added = 0
    for q in bank.questions:
        row = existing.get(q.id)
        if row is None:
            row = Question(id=q.id)
            session.add(row)
            added += 1
        row.dimension = q.dimension
        row.text_da, row.text_en = q.da, q.en
        row.low_da, row.high_da = q.ends("da")
        row.low_en, row.high_en = q.ends("en")
    session.flush()
    return added


def committees_over(session: Session, unit: Unit) -> list[Committee]:
    """The committees whose area includes the unit: its own and those of the units above."""
    unit_ids = [unit.id, *(u.id for u in ancestors(session, unit))]
    return list(session.scalars(select(Committee).where(Committee.unit_id.in_(unit_ids))))


def as_bank_question(row: Question) -> BankQuestion:
    return BankQuestion(
        id=row.id,
        dimension=row.dimension,
        da=row.text_da,
        en=row.text_en,
        low={"da": row.low_da, "en": row.low_en},
        high={"da": row.high_da, "en": row.high_en},
    )


def unit_bank(session: Session, unit: Unit, bank: QuestionBank | None = None) -> QuestionBank:
    """The bank plus the active own questions of every committee whose area includes the unit."""
    bank = bank or default_bank()
    committee_ids = [c.id for c in committees_over(session, unit)]
    if not committee_ids:
        return bank
    own = session.scalars(
        select(Question)
        .where(Question.committee_id.in_(committee_ids), Question.active.is_(True))
        .order_by(Question.id)
    ).all()
    return bank.with_questions(as_bank_question(q) for q in own if q.id not in bank)


def next_questions(
    session: Session,
    unit: Unit,
    count: int,
    bank: QuestionBank | None = None,
    *,
    slot: int | None = None,
) -> list[str]:
    """Rotate through the bank and the committee's own questions: with `slot`, on the
    organisation's shared calendar (issue 17: siblings answer the same dimensions in the same
    week); without it, least recently asked dimensions first. No question twice in a row."""
    bank = bank or default_bank()
    sync_bank(session, bank)
    recent = session.scalars(
        select(PulseRound)
        .where(PulseRound.unit_id == unit.id)
        .order_by(PulseRound.opened_at.desc(), PulseRound.id.desc())
        .limit(30)
    ).all()
    history = [[rq.question_id for rq in r.questions] for r in reversed(recent)]
    inactive = set(session.scalars(select(Question.id).where(Question.active.is_(False))))
    return pick_questions(
        unit_bank(session, unit, bank),
        count=count,
        history=history,
        exclude_inactive=inactive,
        seed=unit.id,
        slot=slot,
    )


# --- by hand (CLI) and by schedule ----------------------------------------------------------


def thresholds_for(session: Session, unit: Unit, settings: Settings) -> tuple[int, int]:
    """Score and comment thresholds in force for a unit, each field on its own.

    The topmost committee above the unit sets the base (its own value, else the
    installation's); every committee below it may only raise it: a committee never goes below
    an ancestor committee's threshold, field by field (issue 13, finding 5).
    """
    chain: list[Committee] = []
    current: Unit | None = unit
    while current is not None:
        committee = session.scalars(
            select(Committee).where(Committee.unit_id == current.id)
        ).first()
        if committee is not None:
            chain.append(committee)
        current = current.parent
    score, comment = settings.min_group_size, settings.min_comment_group_size
    for depth, c in enumerate(reversed(chain)):
        if c.min_group_size is not None:
            score = c.min_group_size if depth == 0 else max(score, c.min_group_size)
        if c.min_comment_group_size is not None:
            comment = (
                c.min_comment_group_size if depth == 0 else max(comment, c.min_comment_group_size)
            )
    return score, comment


def has_open_round(session: Session, unit_id: int) -> bool:
    return (
        session.scalars(
            select(PulseRound.id).where(
                PulseRound.unit_id == unit_id, PulseRound.closed_at.is_(None)
            )
        ).first()
        is not None
    )


def run_now(
    session: Session, unit_path: str, *, now: dt.datetime, settings: Settings
) -> list[Opened]:
    """Open a round now for the unit and each unit below it that has members."""
    unit = unit_by_path(session, unit_path)
    if unit is None:
        raise NotFound(f"unknown unit path {unit_path!r}")
    bank = question_bank(settings)
    opened = []
    for u in subtree(session, unit):
        if not members_of(session, u.id) or has_open_round(session, u.id):
            continue
        schedule = session.scalars(select(Schedule).where(Schedule.unit_id == u.id)).first()
        count = schedule.questions_per_round if schedule else 2
        spec = ScheduleSpec.from_row(schedule) if schedule else ScheduleSpec()
        score_min, comment_min = thresholds_for(session, u, settings)
        opened.append(
            open_round(
                session,
                u,
                next_questions(
                    session,
                    u,
                    count,
                    bank,
                    slot=rotation_slot(spec.cadence, local_today(now, settings.tz)),
                ),
                now=now,
                closes_at=schedule_closes_at(
                    now, spec, as_zoneinfo(settings.tz), hours=settings.quiet_hours
                ),
                min_group_size=score_min,
                min_comment_group_size=comment_min,
                default_language=settings.language,
                tz=settings.tz,
            )
        )
    return opened


def open_scheduled_round(
    session: Session, schedule: Schedule, *, now: dt.datetime, settings: Settings
) -> Opened | None:
    """Open the schedule's due round, if one is due and not opened yet; None otherwise.

    The period comes from flows.schedule.due_runs, with the newest period this schedule has
    opened: a holiday moves a run to the next working day, and after downtime only the latest
    missed period is caught up. A unit whose previous round is still open waits for it to
    close, so nobody holds two rounds of the same unit at once.
    """
    spec = ScheduleSpec.from_row(schedule)
    tz = settings.tz
    last_period = session.scalars(
        select(PulseRound.period)
        .where(PulseRound.schedule_id == schedule.id, PulseRound.period.is_not(None))
        .order_by(PulseRound.opened_at.desc(), PulseRound.id.desc())
        .limit(1)
    ).first()
    period = due_runs(spec, last_period=last_period, now=now, tz=as_zoneinfo(tz))
    if period is None:
        return None
    already = session.scalars(
        select(PulseRound.id).where(
            PulseRound.schedule_id == schedule.id, PulseRound.period == period
        )
    ).first()
    unit = schedule.unit
    if already is not None or has_open_round(session, unit.id) or not members_of(session, unit.id):
        return None
    score_min, comment_min = thresholds_for(session, unit, settings)
    return open_round(
        session,
        unit,
        next_questions(
            session,
            unit,
            schedule.questions_per_round,
            question_bank(settings),
            slot=rotation_slot(spec.cadence, period_start(spec, period)),
        ),
        now=now,
        closes_at=schedule_closes_at(now, spec, as_zoneinfo(tz), hours=settings.quiet_hours),
        min_group_size=score_min,
        min_comment_group_size=comment_min,
        default_language=settings.language,
        tz=tz,
        schedule_id=schedule.id,
        period=period,
    )


def as_zoneinfo(tz: dt.tzinfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))


def open_due_rounds(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: open every schedule's due round (one transaction per schedule).

    Safe to run twice: a round exists at most once per (schedule, period); a second tick that
    races the first past the check loses on the unique constraint and changes nothing.
    """
    with db.session() as session:
        schedule_ids = list(
            session.scalars(
                select(Schedule.id).where(Schedule.active.is_(True)).order_by(Schedule.id)
            )
        )
    for schedule_id in schedule_ids:
        try:
            with db.session() as session:
                schedule = session.get(Schedule, schedule_id)
                if schedule is not None and schedule.active:
                    open_scheduled_round(session, schedule, now=now, settings=settings)
        except IntegrityError:
            log.info("scheduled round opened by another tick", extra={"schedule_id": schedule_id})
        except ValueError as err:
            log.error(
                "schedule cannot be read", extra={"schedule_id": schedule_id, "reason": str(err)}
            )


def close_now(session: Session, unit_path: str, *, now: dt.datetime, settings: Settings) -> int:
    """Close the open rounds of the unit and the units below it; returns how many closed."""
    unit = unit_by_path(session, unit_path)
    if unit is None:
        raise NotFound(f"unknown unit path {unit_path!r}")
    ids = [u.id for u in subtree(session, unit)]
    rounds = session.scalars(
        select(PulseRound).where(PulseRound.unit_id.in_(ids), PulseRound.closed_at.is_(None))
    ).all()
    key = answers_key(settings) if rounds else b""
    for r in rounds:
        close_round(session, r, now=now, default_language=settings.language, key=key)
        queue_closed_rewrites(session, r, settings.language)
    return len(rounds)


def close_due_rounds(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Close every round whose time is up (one transaction per round), then scrub the files."""
    with db.session() as session:
        due = list(
            session.scalars(
                select(PulseRound.id).where(
                    PulseRound.closed_at.is_(None), PulseRound.closes_at <= now
                )
            )
        )
    if not due:
        return
    key = answers_key(settings)
    for round_id in due:
        with db.session() as session:
            r = session.get(PulseRound, round_id, with_for_update=db.is_postgres)
            if r is not None and r.closed_at is None:
                close_round(session, r, now=now, default_language=settings.language, key=key)
                queue_closed_rewrites(session, r, settings.language)
    scrub_closed_rounds(db, settings, now)


def scrub_closed_rounds(
    db: Database, settings: Settings, now: dt.datetime, *, wait: float = SCRUB_WAIT
) -> None:
    """Scheduler job: remove closed rounds' old row versions from the database files, when a
    close left some (storage.scrub); a no-op query otherwise."""
    with db.session() as session:
        pending = session.scalars(
            select(PulseRound.id).where(PulseRound.scrub_pending.is_(True)).limit(1)
        ).first()
    if pending is None:
        return
    if scrub_after_close(db, wait=wait):
        with db.session() as session:
            session.execute(
                update(PulseRound)
                .where(PulseRound.scrub_pending.is_(True))
                .values(scrub_pending=False)
                .execution_options(synchronize_session=False)
            )
        log.info("closed rounds scrubbed from the database files")


# Closing first: a unit's next round waits for its previous one to close (open_scheduled_round).
JOBS = [close_due_rounds, rewrite_closed_round_dms, open_due_rounds, scrub_closed_rounds]
