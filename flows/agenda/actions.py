"""The agenda's buttons and forms: the typed data each one carries (bot.core.actions).

A button or form holds ids only, never a name: what a chair's button carries must not tell who
proposed (docs/flows/agenda.md, "Anonymity"). The text limits are the forms' field limits.
"""

from __future__ import annotations

from typing import Literal

from bot.core.actions import ActionData

TITLE_MAX = 200
TEXT_MAX = 3000

Step = Literal["agenda", "later", "merge", "answer", "decline"]


class ProposeOpen(ActionData):
    """ "Stil forslag" under a call for proposals; `c` the committee that called."""

    kind = "agenda.open"
    c: int | None = None


class ProposeForm(ActionData):
    kind = "agenda.propose"
    c: int | None = None


class BringToMed(ActionData):
    """ "Bring to MED" on a pulse summary: a proposal pre-filled with the question's figures."""

    kind = "agenda.bring"
    u: int
    q: str
    r: int


class SupportToggle(ActionData):
    kind = "agenda.support"
    p: int


class Present(ActionData):
    """A TR/AMR presents a proposal sent through them, in their own name."""

    kind = "agenda.present"
    p: int


class Triage(ActionData):
    kind = "agenda.triage"
    p: int
    s: Step


class TriageForm(ActionData):
    kind = "agenda.triage_form"
    p: int
    s: Step


class Approve(ActionData):
    """Approve version `v` of meeting `m`'s agenda: the version the approver was shown."""

    kind = "agenda.approve"
    m: int
    v: int


class PublishNow(ActionData):
    """Send out version `v` of an agenda both sides approved, before its release date."""

    kind = "agenda.publish_now"
    m: int
    v: int


class MeetingForm(ActionData):
    kind = "agenda.meeting"
    c: int | None = None
