"""The team's action plan (issue 19, section 2).

After the dialogue, anyone in a unit adds an action: a line of text, an owner (a member of the
unit, or the whole team), a date and the dimension it is meant to move. The unit's channel
shows the plan after every change. The owner is reminded before the date, at most twice and
only within working hours (07:30-17:00 Copenhagen time on Danish working days; a reminder due
outside them waits for the next working morning), and at the date is asked how it went: done,
continued (with a new date) or dropped, with a line on what happened. Every change is an audit
entry.

Figures: an action holds no answer and no figure. Where a plan shows a dimension's trend (the
leader's digest, the committee's summary, a proposal taken to MED) it uses the unit's round
figures exactly as the round summary publishes them: `flows.dialogue.shown_dimension_scores`,
which asks `flows.disclosure.decide` with the round's threshold. A dimension withheld in a
round is "not measured" for the plan.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted
from bot.core.i18n import Translator, chosen_language, translator
from bot.core.messages import (
    Button,
    Buttons,
    Field_,
    Form,
    Header,
    Message,
    Option,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import Outgoing, queue, to_member, to_unit_channel
from bot.core.router import FlowContext, Router
from flows.agenda import bring_to_committee, committee_of_unit, units_served
from flows.dialogue import leaders_of, shown_dimension_scores
from flows.question_bank import default_bank
from flows.schedule import next_working_hours
from storage.db import Database
from storage.models import (
    Meeting,
    Member,
    Membership,
    Proposal,
    PulseRound,
    TeamAction,
    Unit,
)

__all__ = [
    "JOBS",
    "ActionForm",
    "ActionMark",
    "ActionMarkForm",
    "ActionToMed",
    "PlanLine",
    "in_working_hours",
    "load_plans",
    "next_working_moment",
    "plan_parts",
    "register",
    "remind_action_owners",
    "reminder_slots",
    "send_committee_plan_summaries",
]

log = logging.getLogger(__name__)

WORK_START = dt.time(7, 30)
WORK_END = dt.time(17, 0)
# Reminders fall due this many days before the date, at REMIND_AT local time: at most two.
REMIND_DAYS_BEFORE = (5, 1)
REMIND_AT = dt.time(9, 0)
TEXT_MAX = 300
OUTCOME_MAX = 500
TEAM = "team"
# Plans older than this (closed) drop out of digests and committee summaries.
PLAN_WINDOW = dt.timedelta(days=120)
STATUSES = ("done", "continued", "dropped")


# --- working hours ------------------------------------------------------------------------------


def in_working_hours(now: dt.datetime, tz: dt.tzinfo) -> bool:
    """07:30 (inclusive) to 17:00 (exclusive), local time, on a Danish working day."""
    return next_working_moment(now, tz) == now


def next_working_moment(when: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """`when` itself within working hours, else the next working morning at 07:30."""
    return next_working_hours(when, WORK_START, WORK_END, _zone(tz))


def reminder_slots(due_on: dt.date, tz: dt.tzinfo) -> list[dt.datetime]:
    """When each reminder may go: its nominal time moved to the next working-hours moment."""
    return [
        next_working_moment(
            dt.datetime.combine(due_on - dt.timedelta(days=d), REMIND_AT, tzinfo=tz), tz
        )
        for d in REMIND_DAYS_BEFORE
    ]


# --- action data ----------------------------------------------------------------------------


class ActionOpen(ActionData):
    """ "Tilføj handling" under the plan: opens the form for the unit."""

    kind = "actions.open"
    u: int


class ActionForm(ActionData):
    kind = "actions.add"
    u: int


class ActionMark(ActionData):
    """At the date: done, continued or dropped (opens the form for the line on what happened)."""

    kind = "actions.mark"
    a: int
    s: str


class ActionMarkForm(ActionData):
    kind = "actions.mark_form"
    a: int
    s: str


class ActionToMed(ActionData):
    """ "Tag planen til MED": the unit's plan as an agenda proposal, with its evidence."""

    kind = "actions.to_med"
    u: int


# --- who ------------------------------------------------------------------------------------


def units_of(session: Session, member: Member) -> list[Unit]:
    rows = session.scalars(select(Membership).where(Membership.member_id == member.id))
    return sorted((ms.unit for ms in rows), key=lambda u: u.path)


def members_in(session: Session, unit_id: int) -> list[Member]:
    rows = session.scalars(select(Membership).where(Membership.unit_id == unit_id))
    return sorted((ms.member for ms in rows if not ms.member.erased), key=lambda m: m.name)


def is_in_unit(session: Session, member: Member | None, unit_id: int) -> bool:
    if member is None:
        return False
    return (
        session.scalars(
            select(Membership.id).where(
                Membership.member_id == member.id, Membership.unit_id == unit_id
            )
        ).first()
        is not None
    )


def owners_of(session: Session, action: TeamAction) -> list[Member]:
    """Who is reminded: the owner, or every member of the unit for the whole team."""
    if action.owner_id is None:
        return members_in(session, action.unit_id)
    owner = session.get(Member, action.owner_id)
    return [owner] if owner is not None and not owner.erased else []


def may_mark(session: Session, member: Member | None, action: TeamAction) -> bool:
    if member is None:
        return False
    if action.owner_id == member.id:
        return True
    if action.owner_id is None and is_in_unit(session, member, action.unit_id):
        return True
    return member.id in {m.id for m in leaders_of(session, action.unit_id)}


# --- rendering ------------------------------------------------------------------------------


def dimension_label(dimension: str, t: Translator) -> str:
    dims = default_bank().dimensions
    return dims[dimension].label.get(t.lang) if dimension in dims else dimension


def owner_name(session: Session, action: TeamAction, t: Translator) -> str:
    if action.owner_id is None:
        return t("actions.whole_team")
    owner = session.get(Member, action.owner_id)
    return owner.name if owner is not None and not owner.erased else t("actions.former_member")


def action_line(session: Session, action: TeamAction, t: Translator) -> str:
    line = t(
        "actions.line",
        text=action.text,
        owner=owner_name(session, action, t),
        date=t.date(action.due_on, "d. MMMM y"),
        dimension=dimension_label(action.dimension, t),
        status=t(f"actions.status_{action.status}"),
    )
    if action.outcome:
        line += "\n" + t("actions.outcome_line", outcome=action.outcome)
    return line


def unit_actions(
    session: Session, unit_id: int, *, since: dt.datetime | None = None
) -> list[TeamAction]:
    query = select(TeamAction).where(TeamAction.unit_id == unit_id)
    rows = session.scalars(query.order_by(TeamAction.due_on, TeamAction.id)).all()
    return [
        a
        for a in rows
        if since is None or a.status == "planned" or (a.closed_at and a.closed_at >= since)
    ]


def plan_message(session: Session, unit: Unit, t: Translator, *, buttons: bool = True) -> Message:
    """The unit's plan as the channel shows it: every action, its owner, date and status."""
    title = t("actions.plan_title", unit=unit.name)
    parts: list[Part] = [Header(text=title)]
    actions = unit_actions(session, unit.id)
    if not actions:
        parts.append(Text(text=t("actions.plan_empty")))
    for action in actions:
        parts.append(Text(text=action_line(session, action, t)))
    if buttons:
        parts.append(
            Buttons(
                buttons=[
                    Button(label=t("actions.add_button"), data=ActionOpen(u=unit.id).pack()),
                    Button(label=t("actions.to_med_button"), data=ActionToMed(u=unit.id).pack()),
                ]
            )
        )
    parts.append(SmallPrint(text=t("actions.plan_small")))
    return Message(summary=title, parts=parts)


def _post_plan(ctx: FlowContext, action: TeamAction) -> None:
    unit = ctx.session.get(Unit, action.unit_id)
    assert unit is not None
    ctx.send(
        to_unit_channel(
            unit.id,
            f"actions:plan:{unit.id}:{action.id}:v{action.version}",
            plan_message(ctx.session, unit, translator(ctx.settings.language)),
            purpose="actions.plan",
        )
    )


# --- the dimension's trend, through the gate ------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """The dimension's shown mean (1-5) before the action started and since."""

    before: float | None
    after: float | None


def _shown_mean(session: Session, pulse_round: PulseRound, dimension: str) -> float | None:
    for score in shown_dimension_scores(session, pulse_round):
        if score.dimension == dimension:
            return score.mean
    return None


def trend_of(session: Session, action: TeamAction) -> Trend:
    """The latest shown figure at or before the start, and the latest shown one after it."""
    rounds = session.scalars(
        select(PulseRound)
        .where(PulseRound.unit_id == action.unit_id, PulseRound.closed_at.is_not(None))
        .order_by(PulseRound.closed_at.desc())
    ).all()
    before = after = None
    for r in rounds:
        assert r.closed_at is not None
        mean = _shown_mean(session, r, action.dimension)
        if mean is None:
            continue
        if r.closed_at > action.created_at:
            after = mean if after is None else after
        elif before is None:
            before = mean
            break
    return Trend(before, after)


def trend_text(trend: Trend, t: Translator) -> str:
    if trend.before is None or trend.after is None:
        return t("actions.trend_unknown")
    change = trend.after - trend.before
    return t(
        "actions.trend",
        before=t.number(trend.before),
        after=t.number(trend.after),
        change=("+" if change >= 0 else "−") + t.number(abs(change)),
    )


@dataclass(frozen=True)
class PlanLine:
    """One action as the leader's digest shows it."""

    text: str
    owner: str | None  # None: the whole team
    due_on: dt.date
    dimension: str
    status: str
    trend: Trend | None  # only after the date


def load_plans(session: Session, now: dt.datetime) -> dict[int, list[PlanLine]]:
    """Every unit's current plan for the digest (actions open or closed recently)."""
    since = now - PLAN_WINDOW
    rows = session.scalars(
        select(TeamAction).order_by(TeamAction.unit_id, TeamAction.due_on, TeamAction.id)
    ).all()
    plans: dict[int, list[PlanLine]] = {}
    for a in rows:
        if a.status != "planned" and (a.closed_at is None or a.closed_at < since):
            continue
        owner = session.get(Member, a.owner_id) if a.owner_id else None
        past = now.date() > a.due_on or a.status != "planned"
        plans.setdefault(a.unit_id, []).append(
            PlanLine(
                a.text,
                None if a.owner_id is None else (owner.name if owner else "?"),
                a.due_on,
                a.dimension,
                a.status,
                trend_of(session, a) if past else None,
            )
        )
    return plans


def plan_parts(lines: Sequence[PlanLine], t: Translator) -> list[Part]:
    """The digest's section on the unit's plan: status, and the trend after the date."""
    if not lines:
        return []
    out: list[str] = []
    for line in lines:
        text = t(
            "actions.digest_line",
            text=line.text,
            owner=line.owner or t("actions.whole_team"),
            date=t.date(line.due_on),
            status=t(f"actions.status_{line.status}"),
        )
        if line.trend is not None:
            label = dimension_label(line.dimension, t)
            text += "\n" + t(
                "actions.digest_trend", dimension=label, trend=trend_text(line.trend, t)
            )
        out.append(text)
    counts = {s: sum(ln.status == s for ln in lines) for s in ("planned", "done", "dropped")}
    return [
        Text(text=t("actions.digest_title", **counts)),
        Text(text="\n".join(out)),
    ]


# --- adding ---------------------------------------------------------------------------------


def action_form(
    session: Session, member: Member, unit: Unit, t: Translator, text: str = ""
) -> Form:
    owners = [Option(value=TEAM, label=t("actions.whole_team"))] + [
        Option(value=str(m.id), label=m.name) for m in members_in(session, unit.id)[:99]
    ]
    dims = [
        Option(value=key, label=d.label.get(t.lang)) for key, d in default_bank().dimensions.items()
    ]
    return Form(
        data=ActionForm(u=unit.id).pack(),
        title=t("actions.form_title"),
        submit=t("actions.form_submit"),
        intro=t("actions.form_intro", unit=unit.name),
        fields=[
            Field_(
                name="text",
                label=t("actions.form_text"),
                kind="textarea",
                max_length=TEXT_MAX,
                initial=text or None,
                placeholder=t("actions.form_text_example"),
            ),
            Field_(name="owner", label=t("actions.form_owner"), kind="choice", options=owners),
            Field_(name="date", label=t("actions.form_date"), kind="date"),
            Field_(
                name="dimension", label=t("actions.form_dimension"), kind="choice", options=dims
            ),
        ],
    )


def on_action_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """ "handling <text>": the form for the member's (first) unit, the text filled in."""
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    units = units_of(ctx.session, member)
    if not units:
        return Reply.note(ctx.t("actions.no_unit"))
    text = event.text.strip()
    if not event.command or event.command.startswith("/"):
        words = text.split(maxsplit=1)
        text = words[1] if len(words) > 1 else ""
    return Reply(form=action_form(ctx.session, member, units[0], ctx.t, text[:TEXT_MAX]))


def on_plan_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """ "plan": the plan of each of the member's units, as the channel shows it."""
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    units = units_of(ctx.session, member)
    if not units:
        return Reply.note(ctx.t("actions.no_unit"))
    messages = [plan_message(ctx.session, u, ctx.t) for u in units]
    parts = [p for m in messages for p in m.parts]
    return Reply(notice=Message(summary=messages[0].summary, parts=parts))


def on_open(ctx: FlowContext, event: ButtonClicked, data: ActionOpen) -> Reply:
    unit = ctx.session.get(Unit, data.u)
    if unit is None or ctx.member is None or not is_in_unit(ctx.session, ctx.member, unit.id):
        return Reply.note(ctx.t("actions.not_in_unit"))
    return Reply(form=action_form(ctx.session, ctx.member, unit, ctx.t))


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def on_add(ctx: FlowContext, event: FormSubmitted, data: ActionForm) -> Reply:
    t = ctx.t
    unit = ctx.session.get(Unit, data.u)
    member = ctx.member
    if unit is None or not is_in_unit(ctx.session, member, data.u):
        ctx.audit("action.add", f"unit:{data.u}", allowed=False)
        return Reply.note(t("actions.not_in_unit"))
    assert member is not None
    values = {k: (v or "").strip() for k, v in event.values.items()}
    errors: dict[str, str] = {}
    text = values.get("text", "")[:TEXT_MAX]
    if not text:
        errors["text"] = t("actions.error_text")
    owner_value = values.get("owner") or TEAM
    owner_id: int | None = None
    if owner_value != TEAM:
        owner = ctx.session.get(Member, int(owner_value)) if owner_value.isdigit() else None
        if owner is None or not is_in_unit(ctx.session, owner, unit.id):
            errors["owner"] = t("actions.error_owner")
        else:
            owner_id = owner.id
    due = parse_date(values.get("date", ""))
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if due is None or due < today:
        errors["date"] = t("actions.error_date")
    dimension = values.get("dimension", "")
    if dimension not in default_bank().dimensions:
        errors["dimension"] = t("actions.error_dimension")
    if errors:
        return Reply(errors=errors)
    assert due is not None
    action = TeamAction(
        unit_id=unit.id,
        text=text,
        owner_id=owner_id,
        due_on=due,
        dimension=dimension,
        created_by=member.id,
        created_at=ctx.now,
    )
    ctx.session.add(action)
    ctx.session.flush()
    ctx.audit(
        "action.add",
        f"action:{action.id}",
        unit=unit.id,
        owner=owner_id,
        due=due.isoformat(),
        dimension=dimension,
    )
    _post_plan(ctx, action)
    return Reply.note(t("actions.added", unit=unit.name))


# --- reminders and the date -----------------------------------------------------------------


def _reminder(session: Session, action: TeamAction, t: Translator) -> Message:
    text = t("actions.reminder", text=action.text, date=t.date(action.due_on, "EEEE d. MMMM"))
    small = SmallPrint(text=t("actions.reminder_small"))
    return Message(summary=text, parts=[Text(text=text), small])


def _due_message(session: Session, action: TeamAction, t: Translator) -> Message:
    text = t("actions.due", text=action.text)
    buttons = [
        Button(
            label=t(f"actions.mark_{s}"),
            data=ActionMark(a=action.id, s=s).pack(),
            style="primary" if s == "done" else "default",
        )
        for s in STATUSES
    ]
    return Message(summary=text, parts=[Text(text=text), Buttons(buttons=buttons)])


def _speak(member: Member, settings: Settings) -> Translator:
    return translator(chosen_language(member.language, settings.language))


def reminders_for(session: Session, settings: Settings, now: dt.datetime) -> list[Outgoing]:
    """The reminders and at-the-date questions due now; nothing outside working hours."""
    tz = settings.tz
    if not in_working_hours(now, tz):
        return []
    today = now.astimezone(tz).date()
    items: list[Outgoing] = []
    for action in session.scalars(
        select(TeamAction).where(TeamAction.status == "planned").order_by(TeamAction.id)
    ):
        stem = f"actions:{action.id}:{action.due_on.isoformat()}"
        if today >= action.due_on:
            for m in owners_of(session, action):
                items.append(
                    to_member(
                        m.id,
                        f"{stem}:due:m{m.id}",
                        _due_message(session, action, _speak(m, settings)),
                        purpose="actions.due",
                    )
                )
            continue
        due_now = sum(slot <= now for slot in reminder_slots(action.due_on, _zone(tz)))
        if due_now <= action.reminders_sent:
            continue
        # Missed slots are not caught up one by one: one reminder now, never more than two.
        action.reminders_sent = due_now
        for m in owners_of(session, action):
            items.append(
                to_member(
                    m.id,
                    f"{stem}:r{due_now}:m{m.id}",
                    _reminder(session, action, _speak(m, settings)),
                    purpose="actions.reminder",
                )
            )
    return items


def _zone(tz: dt.tzinfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))


def remind_action_owners(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: reminders before the date, the question at it (outbox-deduplicated)."""
    with db.session() as session:
        items = reminders_for(session, settings, now)
        if items:
            added = queue(session, items)
            log.info("action reminders queued", extra={"count": added})


# --- marking --------------------------------------------------------------------------------


def mark_form(action: TeamAction, status: str, t: Translator) -> Form:
    fields = [
        Field_(
            name="outcome", label=t("actions.form_outcome"), kind="textarea", max_length=OUTCOME_MAX
        )
    ]
    if status == "continued":
        fields.append(Field_(name="date", label=t("actions.form_new_date"), kind="date"))
    return Form(
        data=ActionMarkForm(a=action.id, s=status).pack(),
        title=t(f"actions.mark_{status}"),
        submit=t("actions.form_submit"),
        intro=action.text,
        fields=fields,
    )


def on_mark(ctx: FlowContext, event: ButtonClicked, data: ActionMark) -> Reply:
    action = ctx.session.get(TeamAction, data.a)
    if action is None or data.s not in STATUSES:
        return Reply.note(ctx.t("actions.unknown"))
    if not may_mark(ctx.session, ctx.member, action):
        ctx.audit("action.mark", f"action:{action.id}", allowed=False)
        return Reply.note(ctx.t("actions.not_owner"))
    if action.status != "planned":
        return Reply.note(ctx.t("actions.already", status=ctx.t(f"actions.status_{action.status}")))
    return Reply(form=mark_form(action, data.s, ctx.t))


def on_mark_submit(ctx: FlowContext, event: FormSubmitted, data: ActionMarkForm) -> Reply:
    t = ctx.t
    action = ctx.session.get(TeamAction, data.a)
    if action is None or data.s not in STATUSES:
        return Reply.note(t("actions.unknown"))
    if not may_mark(ctx.session, ctx.member, action):
        ctx.audit("action.mark", f"action:{action.id}", allowed=False)
        return Reply.note(t("actions.not_owner"))
    if action.status != "planned":
        return Reply.note(t("actions.already", status=t(f"actions.status_{action.status}")))
    outcome = (event.values.get("outcome") or "").strip()[:OUTCOME_MAX]
    errors: dict[str, str] = {}
    if not outcome:
        errors["outcome"] = t("actions.error_outcome")
    new_date = None
    if data.s == "continued":
        new_date = parse_date(event.values.get("date") or "")
        today = ctx.now.astimezone(ctx.settings.tz).date()
        if new_date is None or new_date <= today:
            errors["date"] = t("actions.error_new_date")
    if errors:
        return Reply(errors=errors)
    # The line on what happened is plan content, not an answer: kept, since a later change
    # (continued, then done) replaces it on the action.
    detail: dict[str, Any] = {
        "status": data.s,
        "was_due": action.due_on.isoformat(),
        "outcome": outcome,
    }
    action.outcome = outcome
    action.version += 1
    if data.s == "continued":
        assert new_date is not None
        action.due_on = new_date
        action.reminders_sent = 0
        detail["due"] = new_date.isoformat()
    else:
        action.status = data.s
        action.closed_at = ctx.now
    ctx.audit(f"action.{data.s}", f"action:{action.id}", **detail)
    ctx.session.flush()
    _post_plan(ctx, action)
    return Reply.note(t("actions.marked", status=t(f"actions.status_{data.s}")))


# --- to MED ---------------------------------------------------------------------------------


def evidence(session: Session, actions: Sequence[TeamAction], t: Translator) -> list[str]:
    """Each planned dimension's shown figures before the plan and since (thresholded)."""
    lines = []
    for dimension in dict.fromkeys(a.dimension for a in actions):
        first = min((a for a in actions if a.dimension == dimension), key=lambda a: a.created_at)
        lines.append(
            t(
                "actions.evidence_line",
                dimension=dimension_label(dimension, t),
                trend=trend_text(trend_of(session, first), t),
            )
        )
    return lines


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
    plan = "\n".join(action_line(ctx.session, a, lt) for a in actions)
    figures = "\n".join(evidence(ctx.session, actions, lt))
    proposal = Proposal(
        committee_id=committee.id,
        proposer_id=member.id,
        anonymous=False,
        title=lt("actions.med_title", unit=unit.name)[:200],
        issue=lt("actions.med_issue", unit=unit.name, plan=plan, evidence=figures)[:3000],
        why=lt("actions.med_why"),
        status="new",
        created_at=ctx.now,
    )
    ctx.session.add(proposal)
    ctx.session.flush()
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


# --- the committee's summary before each meeting --------------------------------------------


def committee_summary(
    session: Session, units: Sequence[Unit], t: Translator, title: str, now: dt.datetime
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
        lines += [action_line(session, a, t) for a in actions]
        lines += evidence(session, actions, t)
        parts.append(Text(text="\n".join(lines)))
    if not any_plan:
        parts.append(Text(text=t("actions.committee_none")))
    parts.append(SmallPrint(text=t("actions.plan_small")))
    return Message(summary=title, parts=parts)


def send_committee_plan_summaries(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: once per meeting, when its agenda is released, the area's plans go to the
    committee's channel (dedupe key on the meeting)."""
    with db.session() as session:
        meetings = session.scalars(
            select(Meeting).where(Meeting.agenda_release <= now, Meeting.starts_at > now)
        ).all()
        items = []
        t = translator(settings.language)
        for meeting in meetings:
            committee = meeting.committee
            when = t.date(meeting.starts_at.astimezone(settings.tz).date(), "d. MMMM")
            title = t("actions.committee_title", committee=committee.name, date=when)
            message = committee_summary(session, units_served(session, committee), t, title, now)
            items.append(
                to_unit_channel(
                    committee.unit_id,
                    f"actions:med:{meeting.id}",
                    message,
                    purpose="actions.committee",
                )
            )
        if items:
            queue(session, items)


JOBS = [remind_action_owners, send_committee_plan_summaries]


ADD_WORDS = ("handling", "action")
PLAN_WORDS = ("plan", "handlingsplan")


def register(router: Router) -> None:
    router.command(*ADD_WORDS)(on_action_command)
    router.command(*PLAN_WORDS)(on_plan_command)
    router.action(ActionOpen)(on_open)
    router.form(ActionForm, limits={"text": TEXT_MAX})(on_add)
    router.action(ActionMark)(on_mark)
    router.form(ActionMarkForm, limits={"outcome": OUTCOME_MAX})(on_mark_submit)
    router.action(ActionToMed)(on_to_med)
