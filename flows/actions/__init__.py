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

from bot.core.router import Router
from flows.actions.adding import (
    TEAM,
    TEXT_MAX,
    action_form,
    on_action_command,
    on_add,
    on_open,
    on_plan_command,
    parse_date,
)
from flows.actions.committee import committee_summary, on_to_med, send_committee_plan_summaries
from flows.actions.data import (
    STATUSES,
    ActionForm,
    ActionMark,
    ActionMarkForm,
    ActionOpen,
    ActionToMed,
)
from flows.actions.for_digest import PlanLine, load_plans, plan_parts
from flows.actions.hours import (
    REMIND_AT,
    REMIND_DAYS_BEFORE,
    WORK_END,
    WORK_START,
    in_working_hours,
    next_working_moment,
    reminder_slots,
)
from flows.actions.marking import OUTCOME_MAX, mark_form, on_mark, on_mark_submit
from flows.actions.people import is_in_unit, may_mark, members_in, owners_of, units_of
from flows.actions.plan import PLAN_WINDOW, action_line, plan_message, unit_actions
from flows.actions.reminders import remind_action_owners, reminders_for
from flows.actions.trend import Trend, evidence, trend_of, trend_text

__all__ = [
    "JOBS",
    "OUTCOME_MAX",
    "PLAN_WINDOW",
    "REMIND_AT",
    "REMIND_DAYS_BEFORE",
    "STATUSES",
    "TEAM",
    "TEXT_MAX",
    "WORK_END",
    "WORK_START",
    "ActionForm",
    "ActionMark",
    "ActionMarkForm",
    "ActionOpen",
    "ActionToMed",
    "PlanLine",
    "Trend",
    "action_form",
    "action_line",
    "committee_summary",
    "evidence",
    "in_working_hours",
    "is_in_unit",
    "load_plans",
    "mark_form",
    "may_mark",
    "members_in",
    "next_working_moment",
    "owners_of",
    "parse_date",
    "plan_message",
    "plan_parts",
    "register",
    "remind_action_owners",
    "reminder_slots",
    "reminders_for",
    "send_committee_plan_summaries",
    "trend_of",
    "trend_text",
    "unit_actions",
    "units_of",
]

# The scheduler names each job after this package and the function: "flows.actions.<name>".
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
