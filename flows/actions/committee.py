"""The plan at MED: "take the plan to MED" as an agenda proposal with its thresholded evidence,
and the area's plans to the committee's channel before each meeting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.events import ButtonClicked
from bot.core.i18n import Translator, translator
from bot.core.messages import Header, Message, Part, Reply, SmallPrint, Text
from bot.core.outbox import Outgoing, queue_due, to_unit_channel
from bot.core.router import FlowContext
from flows.actions.data import ActionToMed
from flows.actions.keys import committee_key
from flows.actions.people import is_in_unit
from flows.actions.plan import PLAN_WINDOW, action_line, unit_actions
from flows.actions.trend import evidence
from flows.agenda import bring_to_committee, committee_of_unit, units_served
from flows.question_bank import QuestionBank, question_bank
from storage.db import Database
from storage.models import Meeting, Proposal, Unit


def on_to_med(ctx: FlowContext, event: ButtonClicked, data: ActionToMed) -> Reply:
    """One click: the plan and its thresholded evidence become an agenda proposal."""
    t = ctx.t
    unit = ctx.session.get(Unit, data.u)
    member = ctx.member
    if unit is None or member is None or not is_in_unit(ctx.session, member, unit.id):
        ctx.audit("action.to_med", f"unit:{data.u}", allowed=False)
        return Reply.note(t("actions.not_in_unit"))
    committee = committee_of_unit(ctx.session, unit)
    if committee is None:
        return Reply.note(t("actions.no_committee", unit=unit.name))
    actions = unit_actions(ctx.session, unit.id)
    if not actions:
        return Reply.note(t("actions.plan_empty"))
    pending = [a for a in actions if a.proposal_id is None]
    if not pending:
        return Reply.note(t("actions.already_at_med", committee=committee.name))
    lt = translator(ctx.settings.language)
    bank = question_bank(ctx.settings)
    plan = "\n".join(action_line(ctx.session, a, lt, bank) for a in actions)
    figures = "\n".join(evidence(ctx.session, actions, lt, bank))
    proposal = ctx.added(
        Proposal(
            committee_id=committee.id,
            proposer_id=member.id,
            anonymous=False,
            title=lt("actions.med_title", unit=unit.name)[:200],
            issue=lt("actions.med_issue", unit=unit.name, plan=plan, evidence=figures)[:3000],
            why=lt("actions.med_why"),
            status="new",
            created_at=ctx.now,
        )
    )
    for a in pending:
        a.proposal_id = proposal.id
    ctx.audit(
        "action.to_med",
        f"unit:{unit.id}",
        proposal=proposal.id,
        actions=[a.id for a in actions],
    )
    receipt = bring_to_committee(ctx, proposal, unit)
    return Reply.note(receipt)


def committee_summary(
    session: Session,
    units: Sequence[Unit],
    t: Translator,
    title: str,
    now: dt.datetime,
    bank: QuestionBank,
) -> Message:
    parts: list[Part] = [Header(text=title)]
    since = now - PLAN_WINDOW
    any_plan = False
    for unit in units:
        actions = unit_actions(session, unit.id, since=since)
        if not actions:
            continue
        any_plan = True
        counts = {s: sum(a.status == s for a in actions) for s in ("planned", "done", "dropped")}
        lines = [t("actions.committee_unit", unit=unit.name, **counts)]
        lines += [action_line(session, a, t, bank) for a in actions]
        lines += evidence(session, actions, t, bank)
        parts.append(Text(text="\n".join(lines)))
    if not any_plan:
        parts.append(Text(text=t("actions.committee_none")))
    parts.append(SmallPrint(text=t("actions.plan_small")))
    return Message(summary=title, parts=parts)


def committee_summaries_due(
    session: Session, settings: Settings, now: dt.datetime
) -> list[Outgoing]:
    """One summary per meeting whose agenda is released and which has not begun."""
    meetings = session.scalars(
        select(Meeting).where(Meeting.agenda_release <= now, Meeting.starts_at > now)
    ).all()
    items = []
    t = translator(settings.language)
    bank = question_bank(settings)
    for meeting in meetings:
        committee = meeting.committee
        when = t.date(meeting.starts_at.astimezone(settings.tz).date(), "d. MMMM")
        title = t("actions.committee_title", committee=committee.name, date=when)
        units = units_served(session, committee)
        message = committee_summary(session, units, t, title, now, bank)
        items.append(
            to_unit_channel(
                committee.unit_id, committee_key(meeting.id), message, purpose="actions.committee"
            )
        )
    return items


def send_committee_plan_summaries(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: once per meeting, when its agenda is released, the area's plans go to the
    committee's channel (dedupe key on the meeting)."""
    queue_due(db, lambda session: committee_summaries_due(session, settings, now))
