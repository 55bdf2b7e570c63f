"""Adding an action: the "handling" and "plan" commands, the form and its checks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Field_, Form, Option, Reply
from bot.core.router import FlowContext
from flows.actions.data import ActionForm, ActionOpen
from flows.actions.people import is_in_unit, members_in, units_of
from flows.actions.plan import plan_message, post_plan
from flows.question_bank import QuestionBank, question_bank
from storage.models import Member, TeamAction, Unit

TEXT_MAX = 300
# The owner choice for "the whole team" (every member of the unit is reminded).
TEAM = "team"


def action_form(
    session: Session, member: Member, unit: Unit, t: Translator, bank: QuestionBank, text: str = ""
) -> Form:
    owners = [Option(value=TEAM, label=t("actions.whole_team"))] + [
        Option(value=str(m.id), label=m.name) for m in members_in(session, unit.id)[:99]
    ]
    dims = [Option(value=key, label=d.label.get(t.lang)) for key, d in bank.dimensions.items()]
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


def _units_or_note(ctx: FlowContext) -> tuple[Member, list[Unit]] | Reply:
    """The member and their units, or the note saying why there are none."""
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    units = units_of(ctx.session, member)
    if not units:
        return Reply.note(ctx.t("actions.no_unit"))
    return member, units


def on_action_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """ "handling <text>": the form for the member's (first) unit, the text filled in."""
    found = _units_or_note(ctx)
    if isinstance(found, Reply):
        return found
    member, units = found
    text = event.text.strip()
    if not event.command or event.command.startswith("/"):
        words = text.split(maxsplit=1)
        text = words[1] if len(words) > 1 else ""
    bank = question_bank(ctx.settings)
    return Reply(form=action_form(ctx.session, member, units[0], ctx.t, bank, text[:TEXT_MAX]))


def on_plan_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """ "plan": the plan of each of the member's units, as the channel shows it."""
    found = _units_or_note(ctx)
    if isinstance(found, Reply):
        return found
    bank = question_bank(ctx.settings)
    messages = [plan_message(ctx.session, u, ctx.t, bank) for u in found[1]]
    parts = [p for m in messages for p in m.parts]
    return Reply.notice_of(messages[0].summary, parts)


def on_open(ctx: FlowContext, event: ButtonClicked, data: ActionOpen) -> Reply:
    unit = ctx.session.get(Unit, data.u)
    if unit is None or ctx.member is None or not is_in_unit(ctx.session, ctx.member, unit.id):
        return Reply.note(ctx.t("actions.not_in_unit"))
    bank = question_bank(ctx.settings)
    return Reply(form=action_form(ctx.session, ctx.member, unit, ctx.t, bank))


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
    if dimension not in question_bank(ctx.settings).dimensions:
        errors["dimension"] = t("actions.error_dimension")
    if errors:
        return Reply(errors=errors)
    assert due is not None
    action = ctx.added(
        TeamAction(
            unit_id=unit.id,
            text=text,
            owner_id=owner_id,
            due_on=due,
            dimension=dimension,
            created_by=member.id,
            created_at=ctx.now,
        )
    )
    ctx.audit(
        "action.add",
        f"action:{action.id}",
        unit=unit.id,
        owner=owner_id,
        due=due.isoformat(),
        dimension=dimension,
    )
    post_plan(ctx, action)
    return Reply.note(t("actions.added", unit=unit.name))
