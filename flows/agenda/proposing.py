"""Proposing: the form (from "forslag", a call's button, or "Bring to MED" on a pulse summary),
its submission, a TR/AMR presenting a proposal sent through them, and bringing a proposal before
its committee (its meeting, the channel post, the receipt, the chairs' alert).

Anyone in a unit a committee covers may propose, in their own name, "anonymous to the
committee", or through their TR/AMR (role `rep`), who then presents it in their own name. The
bot always knows the proposer (it must tell them what happened); the committee never learns who
an anonymous proposer is.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted
from bot.core.i18n import Translator, translator
from bot.core.messages import Field_, Form, Header, Message, Option, Reply, Text
from bot.core.outbox import to_member, to_unit_channel
from bot.core.router import FlowContext
from flows.agenda import keys
from flows.agenda.actions import (
    TEXT_MAX,
    TITLE_MAX,
    BringToMed,
    Present,
    ProposeForm,
    ProposeOpen,
)
from flows.agenda.alerts import alert_chairs
from flows.agenda.committees import (
    committees_of,
    proposer_side,
    proposer_unit,
    reps_for,
    session_member,
)
from flows.agenda.meetings import meeting_for_new_proposal
from flows.agenda.render import channel_post, note, reference, rep_request, speak, when
from flows.ledger import cell, round_figures
from flows.med_tree import committee_of_unit
from flows.question_bank import question_bank
from storage.models import (
    Meeting,
    Member,
    Membership,
    Proposal,
    PulseRound,
    Question,
    RoundResult,
    Unit,
)
from storage.queries import ancestors

log = logging.getLogger("medpuls.agenda")


@dataclass(frozen=True)
class Prefill:
    title: str = ""
    issue: str = ""
    why: str = ""
    committee_id: int | None = None


def proposal_form(
    session: Session, member: Member, t: Translator, prefill: Prefill, committee_id: int | None
) -> Form | None:
    choices = committees_of(session, member)
    if not choices:
        return None
    if committee_id is not None and committee_id not in {c.id for c, _ in choices}:
        committee_id = None
    fields: list[Field_] = []
    if committee_id is None and len(choices) > 1:
        fields.append(
            Field_(
                name="committee",
                label=t("agenda.field_committee"),
                kind="choice",
                options=[Option(value=str(c.id), label=c.name) for c, _ in choices],
                initial=str(prefill.committee_id or choices[0][0].id),
            )
        )
    elif committee_id is None:
        committee_id = choices[0][0].id
    committee, unit = next(
        ((c, u) for c, u in choices if c.id == (committee_id or prefill.committee_id)), choices[0]
    )
    identity = [
        Option(value="named", label=t("agenda.identity_named")),
        Option(value="anonymous", label=t("agenda.identity_anonymous")),
    ]
    identity.extend(
        Option(value=f"rep:{rep.id}", label=t("agenda.identity_rep", name=rep.name))
        for rep in reps_for(session, unit, committee, exclude=member.id)
    )
    fields.extend(
        [
            Field_(
                name="title",
                label=t("agenda.field_title"),
                max_length=TITLE_MAX,
                initial=prefill.title[:TITLE_MAX] or None,
            ),
            Field_(
                name="issue",
                label=t("agenda.field_issue"),
                kind="textarea",
                max_length=TEXT_MAX,
                initial=prefill.issue[:TEXT_MAX] or None,
            ),
            Field_(
                name="why",
                label=t("agenda.field_why"),
                kind="textarea",
                max_length=TEXT_MAX,
                initial=prefill.why or None,
            ),
            Field_(
                name="suggestion",
                label=t("agenda.field_suggestion"),
                kind="textarea",
                required=False,
                max_length=TEXT_MAX,
            ),
            Field_(
                name="identity",
                label=t("agenda.field_identity"),
                kind="choice",
                options=identity,
                initial="named",
                hint=t("agenda.identity_hint"),
            ),
        ]
    )
    return Form(
        data=ProposeForm(c=committee_id).pack(),
        title=t("agenda.form_title"),
        submit=t("agenda.form_submit"),
        intro=t("agenda.form_intro"),
        fields=fields,
    )


def _open_form(ctx: FlowContext, prefill: Prefill, committee_id: int | None = None) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    form = proposal_form(ctx.session, ctx.member, ctx.t, prefill, committee_id)
    if form is None:
        return Reply.note(ctx.t("agenda.no_committee"))
    return Reply(form=form)


def on_propose_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    text = event.text.strip()
    if not event.command or event.command.startswith("/"):
        # "/med forslag <text>" and a typed "forslag <text>": the words after the command word.
        text = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return _open_form(ctx, Prefill(title=first_line[:80], issue=text))


def on_propose_button(ctx: FlowContext, event: ButtonClicked, data: ProposeOpen) -> Reply:
    return _open_form(ctx, Prefill(), data.c)


def on_bring_to_med(ctx: FlowContext, event: ButtonClicked, data: BringToMed) -> Reply:
    """Pre-fill a proposal from a closed round's published figure for one question."""
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    pulse_round = ctx.session.get(PulseRound, data.r)
    question = ctx.session.get(Question, data.q)
    if (
        pulse_round is None
        or question is None
        or pulse_round.unit_id != data.u
        or pulse_round.is_open
        or data.q not in {rq.question_id for rq in pulse_round.questions}
    ):
        return Reply.note(ctx.t("agenda.bring_unknown"))
    # Only people who could see the summary: members of the unit or of a unit above it.
    reach = {pulse_round.unit_id, *(u.id for u in ancestors(ctx.session, pulse_round.unit))}
    mine = set(
        ctx.session.scalars(select(Membership.unit_id).where(Membership.member_id == ctx.member.id))
    )
    if not reach & mine:
        ctx.audit("agenda.bring", f"round:{pulse_round.id}", allowed=False)
        return Reply.note(ctx.t("common.not_allowed"))
    # Showing a figure is a view of results, and every view of results is audited.
    ctx.audit("agenda.bring", f"round:{pulse_round.id}", allowed=True, question=question.id)
    t = ctx.t
    dimension = question_bank(ctx.settings).dimensions.get(question.dimension)
    label = dimension.label.get(t.lang) if dimension else question.dimension
    text = question.text_en if t.lang == "en" else question.text_da
    result = ctx.session.get(RoundResult, (pulse_round.id, question.id))
    closed = (pulse_round.closed_at or pulse_round.closes_at).astimezone(ctx.settings.tz)
    # The same decision the published summary got, from the ledger (flows.ledger): a figure
    # withheld there, for too few answers or because it could be computed, is not shown here.
    if (
        result is not None
        and round_figures(
            ctx.session,
            pulse_round,
            [[cell(pulse_round.id, question.id)]],
            path="evidence",
            tz=ctx.settings.tz,
        )[0]
    ):
        mean = result.value_sum / result.respondents
        figure = t(
            "agenda.bring_figure",
            mean=t.number(mean),
            score=t.number((mean - 1.0) * 25.0, 0),
            n=result.respondents,
        )
        issue = t(
            "agenda.bring_issue",
            unit=pulse_round.unit.name,
            date=t.date(closed.date(), "d. MMMM y"),
            question=text,
            figure=figure,
        )
    else:
        issue = t(
            "agenda.bring_issue_no_figure",
            unit=pulse_round.unit.name,
            date=t.date(closed.date(), "d. MMMM y"),
            question=text,
        )
    committee = committee_of_unit(ctx.session, pulse_round.unit)
    prefill = Prefill(
        title=t("agenda.bring_title", dimension=label),
        issue=issue,
        committee_id=committee.id if committee else None,
    )
    return _open_form(ctx, prefill)


def on_propose_submit(ctx: FlowContext, event: FormSubmitted, data: ProposeForm) -> Reply:
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    t = ctx.t
    values = {k: (v or "").strip() for k, v in event.values.items()}
    choices = {c.id: (c, u) for c, u in committees_of(ctx.session, member)}
    committee_id = data.c
    if committee_id is None and values.get("committee", "").isdigit():
        committee_id = int(values["committee"])
    if committee_id is None and len(choices) == 1:
        committee_id = next(iter(choices))
    errors: dict[str, str] = {}
    if committee_id not in choices:
        errors["committee"] = t("agenda.error_committee")
    for name in ("title", "issue", "why"):
        if not values.get(name):
            errors[name] = t("agenda.error_required")
    identity = values.get("identity") or "named"
    rep: Member | None = None
    if committee_id in choices and identity.startswith("rep:"):
        committee, unit = choices[committee_id]
        reps = {r.id: r for r in reps_for(ctx.session, unit, committee, exclude=member.id)}
        rep_id = identity[4:]
        rep = reps.get(int(rep_id)) if rep_id.isdigit() else None
        if rep is None:
            errors["identity"] = t("agenda.error_identity")
    elif identity not in ("named", "anonymous"):
        errors["identity"] = t("agenda.error_identity")
    if errors:
        return Reply(errors=errors)
    assert committee_id is not None
    committee, unit = choices[committee_id]
    proposal = Proposal(
        committee_id=committee.id,
        proposer_id=member.id,
        anonymous=identity != "named",
        presenter_id=rep.id if rep else None,
        title=values["title"][:TITLE_MAX],
        issue=values["issue"][:TEXT_MAX],
        why=values["why"][:TEXT_MAX],
        suggestion=values.get("suggestion", "")[:TEXT_MAX] or None,
        status="via_rep" if rep else "new",
        created_at=ctx.now,
    )
    ctx.session.add(proposal)
    ctx.session.flush()
    tz = ctx.settings.tz
    ref = reference(proposal, tz)
    if rep is not None:
        rt = speak(rep, ctx.settings.language)
        receipt = t("agenda.receipt_via_rep", title=proposal.title, ref=ref, rep=rep.name)
        ctx.send(
            to_member(
                rep.id,
                keys.to_rep(proposal.id),
                rep_request(proposal, rt),
                purpose="agenda.rep",
            ),
            to_member(
                member.id,
                keys.receipt_via_rep(proposal.id),
                note(receipt),
                purpose="agenda.proposer",
            ),
        )
        log.info("proposal sent through a rep", extra={"proposal": proposal.id})
        return Reply.note(receipt)
    return Reply.note(bring_to_committee(ctx, proposal, unit))


def bring_to_committee(ctx: FlowContext, proposal: Proposal, unit: Unit) -> str:
    """Put the proposal before the committee: its meeting, the channel post, the receipt."""
    tz = ctx.settings.tz
    meeting = meeting_for_new_proposal(ctx.session, proposal.committee_id, ctx.now)
    proposal.meeting_id = meeting.id if meeting else None
    proposal.status = "new"
    ctx.session.flush()
    ctx.send(
        to_unit_channel(
            unit.id,
            keys.post(proposal.id),
            channel_post(ctx.session, proposal, translator(ctx.settings.language)),
            purpose="agenda.post",
        )
    )
    receipts = [
        to_member(
            member.id,
            keys.receipt(proposal.id, member.id),
            note(
                receipt_text(
                    ctx.session,
                    proposal,
                    meeting,
                    speak(member, ctx.settings.language),
                    tz,
                    ctx.now,
                )
            ),
            purpose="agenda.proposer",
        )
        for member in proposer_side(ctx.session, proposal)
    ]
    ctx.send(*receipts)
    ctx.send(*alert_chairs(ctx.session, proposal, ctx.settings))
    log.info(
        "proposal made",
        extra={
            "proposal": proposal.id,
            "committee": proposal.committee_id,
            "meeting": proposal.meeting_id,
        },
    )
    return receipt_text(ctx.session, proposal, meeting, ctx.t, tz, ctx.now)


def receipt_text(
    session: Session,
    proposal: Proposal,
    meeting: Meeting | None,
    t: Translator,
    tz: dt.tzinfo,
    now: dt.datetime,
) -> str:
    ref = reference(proposal, tz)
    committee = proposal.committee.name
    if meeting is None:
        return t("agenda.receipt_waiting", title=proposal.title, ref=ref, committee=committee)
    missed = session.scalars(
        select(Meeting)
        .where(
            Meeting.committee_id == proposal.committee_id,
            Meeting.starts_at > now,
            Meeting.starts_at < meeting.starts_at,
        )
        .order_by(Meeting.starts_at)
    ).first()
    text = t(
        "agenda.receipt",
        title=proposal.title,
        ref=ref,
        committee=committee,
        meeting=when(t, meeting.starts_at, tz),
    )
    if missed is not None:
        text += "\n" + t("agenda.receipt_after_deadline", missed=when(t, missed.starts_at, tz))
    return text


def on_present(ctx: FlowContext, event: ButtonClicked, data: Present) -> Reply:
    proposal = ctx.session.get(Proposal, data.p)
    if proposal is None or ctx.member is None or proposal.presenter_id != ctx.member.id:
        return Reply.note(ctx.t("common.not_allowed"))
    if proposal.status != "via_rep":
        return Reply.note(ctx.t("agenda.rep_already"))
    proposer = session_member(ctx.session, proposal.proposer_id)
    unit = proposer_unit(ctx.session, proposal, proposer) or proposal.committee.unit
    bring_to_committee(ctx, proposal, unit)
    done = ctx.t("agenda.rep_done", title=proposal.title, ref=reference(proposal, ctx.settings.tz))
    update = Message(summary=done, parts=[Header(text=proposal.title), Text(text=done)])
    return Reply(update=update if event.message else None, notice=note(done))
