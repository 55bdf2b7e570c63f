"""At the date: the owner marks the action done, continued (with a new date) or dropped, with a
line on what happened."""

from __future__ import annotations

from typing import Any

from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Field_, Form, Reply
from bot.core.router import FlowContext
from flows.actions.adding import parse_date
from flows.actions.data import STATUSES, ActionMark, ActionMarkForm
from flows.actions.people import may_mark
from flows.actions.plan import post_plan
from storage.models import TeamAction

OUTCOME_MAX = 500


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


def _markable(ctx: FlowContext, data: ActionMark | ActionMarkForm) -> TeamAction | Reply:
    """The action the member may mark now, or the note saying why not."""
    t = ctx.t
    action = ctx.session.get(TeamAction, data.a)
    if action is None or data.s not in STATUSES:
        return Reply.note(t("actions.unknown"))
    if not may_mark(ctx.session, ctx.member, action):
        ctx.audit("action.mark", f"action:{action.id}", allowed=False)
        return Reply.note(t("actions.not_owner"))
    if action.status != "planned":
        return Reply.note(t("actions.already", status=t(f"actions.status_{action.status}")))
    return action


def on_mark(ctx: FlowContext, event: ButtonClicked, data: ActionMark) -> Reply:
    action = _markable(ctx, data)
    if isinstance(action, Reply):
        return action
    return Reply(form=mark_form(action, data.s, ctx.t))


def on_mark_submit(ctx: FlowContext, event: FormSubmitted, data: ActionMarkForm) -> Reply:
    t = ctx.t
    action = _markable(ctx, data)
    if isinstance(action, Reply):
        return action
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
    post_plan(ctx, action)
    return Reply.note(t("actions.marked", status=t(f"actions.status_{data.s}")))
