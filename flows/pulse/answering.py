"""The member's side of an open round: a click on 1-5, a comment, the rules on request, and a
click on a closed round's old DM."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.errors import NotAllowed, NotFound, RoundClosed
from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.messages import Message, Reply
from bot.core.router import FlowContext
from flows.pooling import standing_text
from flows.pulse.actions import SCALE, PulseAnswer, PulseCommentForm, PulseCommentOpen, PulseRules
from flows.pulse.anonymity import answers_key, record_answer, respondent_key
from flows.pulse.messages import answer_noted, closed_message, comment_form, note, rules_message
from flows.pulse.thresholds import thresholds_for
from storage.models import Answer, Member, Participation, PulseRound


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


def on_comment_open(ctx: FlowContext, event: ButtonClicked, data: PulseCommentOpen) -> Reply:
    closed = closed_reply(ctx, data.r)
    if closed is not None:
        return closed
    pulse_round, _, _ = _open_round_for(ctx, data.r)
    return Reply(form=comment_form(pulse_round, ctx.t))


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
        return Reply(transient=note(ctx.t("pulse.comment_needs_answer")))
    answers[0].comment = text
    from flows.replies import seal_author  # issue 19's replies live in their own module

    allow = (event.values.get("replies") or "").lower() in ("true", "1", "yes", "on")
    capsule = seal_author(ctx.settings, member.id) if allow else None
    answers[0].reply_capsule = capsule
    saved = ctx.t("pulse.comment_saved")
    on_off = "replies.comment_saved_" + ("on" if capsule else "off" if not allow else "unavailable")
    # Transient like the answer's confirmation: a kept note would say she answered and commented.
    return Reply(transient=note(f"{saved}\n{ctx.t(on_off)}"))


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
