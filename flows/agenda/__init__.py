"""The MED agenda: proposals from anyone, triage by chair and vice-chair, the agenda published,
the loop closed.

A proposal's life is drawn in docs/flows/agenda.md. The rules that shape this module:

* Anyone in a unit a committee covers may propose, in their own name, "anonymous to the
  committee", or through their TR/AMR (role `rep`), who then presents it in their own name.
  The bot always knows the proposer (it must tell them what happened); the committee never
  learns who an anonymous proposer is: no message, form or button a chair sees holds the
  proposer's name or member id, and no log line or audit entry links a member to a proposal.
* A unit's committee is the nearest committee at or above it. A committee *serves* the units
  whose nearest committee it is: its own unit and every unit below that has no committee of
  its own between. Calls for proposals and reminders go to the channels of the served units
  (a unit with its own local MED proposes there); the published agenda goes to every unit
  below the committee, local MED or not (flows.med_tree).
* A proposal goes to the first meeting whose proposal deadline is still ahead; after that
  deadline it goes to the following meeting, or waits for one to be set.
* Only the committee's chair or vice-chair (roles in the committee's unit, checked when the
  click is handled) may triage, approve the agenda or record decisions (flows.minutes);
  either may act, and every step is shown to the other. Publishing needs both approvals and
  the release date.

Where things are, one concept per file:

* actions.py: the buttons' and forms' typed data; keys.py: every dedupe key and signing subject;
  statuses.py: a proposal's statuses (the diagram in docs/flows/agenda.md).
* committees.py: who proposes to which committee, who chairs it, who hears of a proposal.
* meetings.py: meetings and setting one; render.py: the texts and messages; view.py: what
  "dagsorden" shows.
* proposing.py, supporting.py, triage.py, publishing.py: the steps of a proposal's life.
* export.py: the agenda as one document (chat, Markdown, Word); alerts.py: the chairs' alerts
  of new proposals (registered as flows.agenda_alerts); jobs.py: the scheduler's jobs.

This module offers the names other code uses, registers the listeners, and lists the jobs, so
the scheduler knows them as flows.agenda.<job> as before the package.
"""

from __future__ import annotations

from bot.core.router import Router
from flows.agenda.actions import (
    TEXT_MAX,
    TITLE_MAX,
    Approve,
    BringToMed,
    MeetingForm,
    Present,
    ProposeForm,
    ProposeOpen,
    PublishNow,
    Step,
    SupportToggle,
    Triage,
    TriageForm,
)
from flows.agenda.committees import (
    CHAIR_ROLES,
    chair_roles,
    chaired_by,
    chairs_of,
    committees_of,
    proposer_side,
    reps_for,
    session_member,
    units_served,
)
from flows.agenda.jobs import (
    FOLLOW_UP_GRACE,
    REMINDER_TIME,
    REMINDER_WORKING_DAYS,
    publish_due_agendas,
    remind_deadlines,
    remind_follow_ups,
    reminder_time,
)
from flows.agenda.keys import agenda_subject, stamp
from flows.agenda.meetings import (
    OffDay,
    meeting_after,
    meeting_for_new_proposal,
    next_meeting,
    off_day_reason,
    on_meeting_command,
    on_meeting_submit,
    parse_when,
    schedule_meeting,
)
from flows.agenda.proposing import (
    Prefill,
    bring_to_committee,
    on_bring_to_med,
    on_present,
    on_propose_button,
    on_propose_command,
    on_propose_submit,
    proposal_form,
    receipt_text,
)
from flows.agenda.publishing import on_approve, on_publish_now, publish
from flows.agenda.render import (
    TextFor,
    call_message,
    channel_post,
    follow_up_text,
    note,
    proposal_text,
    reference,
    reminder_message,
    rep_request,
    speak,
    support_count,
    tell_chairs,
    tell_proposer,
    when,
)
from flows.agenda.statuses import SUPPORTABLE, UNTRIAGED, ProposalStatus

# flows/full_text.py looks the channel post up through this private name.
from flows.agenda.supporting import _post_row as _post_row
from flows.agenda.supporting import on_support, posted_ref, refresh_post
from flows.agenda.triage import (
    close_without_meeting,
    merge,
    merge_targets,
    move_later,
    on_triage,
    on_triage_submit,
    put_on_agenda,
    triage_form,
)
from flows.agenda.view import (
    member_view,
    on_agenda_command,
    publish_now_button,
    triage_buttons,
    triage_message,
)
from flows.med_tree import committee_of_unit

__all__ = [
    "CHAIR_ROLES",
    "FOLLOW_UP_GRACE",
    "JOBS",
    "REMINDER_TIME",
    "REMINDER_WORKING_DAYS",
    "SUPPORTABLE",
    "TEXT_MAX",
    "TITLE_MAX",
    "UNTRIAGED",
    "Approve",
    "BringToMed",
    "MeetingForm",
    "OffDay",
    "Prefill",
    "Present",
    "ProposalStatus",
    "ProposeForm",
    "ProposeOpen",
    "PublishNow",
    "Step",
    "SupportToggle",
    "TextFor",
    "Triage",
    "TriageForm",
    "agenda_subject",
    "bring_to_committee",
    "call_message",
    "chair_roles",
    "chaired_by",
    "chairs_of",
    "channel_post",
    "close_without_meeting",
    "committee_of_unit",
    "committees_of",
    "follow_up_text",
    "meeting_after",
    "meeting_for_new_proposal",
    "member_view",
    "merge",
    "merge_targets",
    "move_later",
    "next_meeting",
    "note",
    "off_day_reason",
    "on_agenda_command",
    "on_approve",
    "on_bring_to_med",
    "on_meeting_command",
    "on_meeting_submit",
    "on_present",
    "on_propose_button",
    "on_propose_command",
    "on_propose_submit",
    "on_publish_now",
    "on_support",
    "on_triage",
    "on_triage_submit",
    "parse_when",
    "posted_ref",
    "proposal_form",
    "proposal_text",
    "proposer_side",
    "publish",
    "publish_due_agendas",
    "publish_now_button",
    "put_on_agenda",
    "receipt_text",
    "reference",
    "refresh_post",
    "register",
    "remind_deadlines",
    "remind_follow_ups",
    "reminder_message",
    "reminder_time",
    "rep_request",
    "reps_for",
    "schedule_meeting",
    "session_member",
    "speak",
    "stamp",
    "support_count",
    "tell_chairs",
    "tell_proposer",
    "triage_buttons",
    "triage_form",
    "triage_message",
    "units_served",
    "when",
]

JOBS = [remind_deadlines, publish_due_agendas, remind_follow_ups]


def register(router: Router) -> None:
    router.command("forslag", "proposal", "propose")(on_propose_command)
    router.command("dagsorden", "agenda")(on_agenda_command)
    router.command("møde", "mode", "meeting")(on_meeting_command)
    router.action(ProposeOpen)(on_propose_button)
    router.action(BringToMed)(on_bring_to_med)
    router.form(
        ProposeForm,
        limits={"title": TITLE_MAX, "issue": TEXT_MAX, "why": TEXT_MAX, "suggestion": TEXT_MAX},
    )(on_propose_submit)
    router.action(SupportToggle)(on_support)
    router.action(Present)(on_present)
    router.action(Triage)(on_triage)
    router.form(TriageForm, limits={"owner": 200})(on_triage_submit)
    router.action(Approve)(on_approve)
    router.action(PublishNow)(on_publish_now)
    router.form(MeetingForm, limits={"place": 300})(on_meeting_submit)
