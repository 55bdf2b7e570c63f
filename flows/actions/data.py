"""The action plan's buttons and forms: the callback data each one packs."""

from __future__ import annotations

from bot.core.actions import ActionData

# What an owner may mark an action at its date; "planned" is the status before.
STATUSES = ("done", "continued", "dropped")


class _OfUnit(ActionData):
    """Data naming the unit (`u`) whose plan the button or form is about."""

    u: int


class _OfMark(ActionData):
    """Data naming the action (`a`) and the status (`s`, one of STATUSES) it is marked with."""

    a: int
    s: str


class ActionOpen(_OfUnit):
    """ "Tilføj handling" under the plan: opens the form for the unit."""

    kind = "actions.open"


class ActionForm(_OfUnit):
    kind = "actions.add"


class ActionToMed(_OfUnit):
    """ "Tag planen til MED": the unit's plan as an agenda proposal, with its evidence."""

    kind = "actions.to_med"


class ActionMark(_OfMark):
    """At the date: done, continued or dropped (opens the form for the line on what happened)."""

    kind = "actions.mark"


class ActionMarkForm(_OfMark):
    kind = "actions.mark_form"
