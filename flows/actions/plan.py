"""The unit's plan as its channel shows it: every action, its owner, date and status."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.i18n import Translator, translator
from bot.core.messages import Button, Buttons, Header, Message, Part, SmallPrint, Text
from bot.core.outbox import to_unit_channel
from bot.core.router import FlowContext
from flows.actions.data import ActionOpen, ActionToMed
from flows.actions.keys import plan_key
from flows.question_bank import QuestionBank, question_bank
from storage.models import Member, TeamAction, Unit

# Plans older than this (closed) drop out of digests and committee summaries.
PLAN_WINDOW = dt.timedelta(days=120)


def dimension_label(dimension: str, t: Translator, bank: QuestionBank) -> str:
    dims = bank.dimensions
    return dims[dimension].label.get(t.lang) if dimension in dims else dimension


def owner_name(session: Session, action: TeamAction, t: Translator) -> str:
    if action.owner_id is None:
        return t("actions.whole_team")
    owner = session.get(Member, action.owner_id)
    return owner.name if owner is not None and not owner.erased else t("actions.former_member")


def action_line(session: Session, action: TeamAction, t: Translator, bank: QuestionBank) -> str:
    line = t(
        "actions.line",
        text=action.text,
        owner=owner_name(session, action, t),
        date=t.date(action.due_on, "d. MMMM y"),
        dimension=dimension_label(action.dimension, t, bank),
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


def plan_message(
    session: Session, unit: Unit, t: Translator, bank: QuestionBank, *, buttons: bool = True
) -> Message:
    """The unit's plan as the channel shows it: every action, its owner, date and status."""
    title = t("actions.plan_title", unit=unit.name)
    parts: list[Part] = [Header(text=title)]
    actions = unit_actions(session, unit.id)
    if not actions:
        parts.append(Text(text=t("actions.plan_empty")))
    for action in actions:
        parts.append(Text(text=action_line(session, action, t, bank)))
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


def post_plan(ctx: FlowContext, action: TeamAction) -> None:
    """After a change of `action`: the unit's plan to its channel, in the unit's language."""
    unit = ctx.session.get(Unit, action.unit_id)
    assert unit is not None
    message = plan_message(
        ctx.session, unit, translator(ctx.settings.language), question_bank(ctx.settings)
    )
    ctx.send(
        to_unit_channel(
            unit.id, plan_key(unit.id, action.id, action.version), message, purpose="actions.plan"
        )
    )
