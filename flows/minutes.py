"""Decisions and minutes (beslutningsprotokol), issue 18 point 4. The state machine is drawn in
docs/flows/minutes.md.

* After the meeting has begun the chair or vice-chair records a decision per item: a kind
  (vedtaget, afvist, udsat, sendt videre, taget til efterretning) and the reason, in chat
  ("Registrér beslutning" on each item of `dagsorden`) or with `medpuls minutes record` by the
  item's number on the exported agenda. Recording or changing a decision raises the minutes'
  version, so an approval given before the change no longer counts (flows.approvals).
* The minutes are approved like the agenda: one person from each side, never the same person
  twice. Then, once: each decision takes effect (the item closes, waits for the next meeting,
  or moves to the parent or child committee), the minutes go to the channel of every unit
  below the committee (local MED or not) and to the parent committee's channel, and each
  proposer, presenter and supporter gets a DM with the decision and its reason. An anonymous
  proposer is told in that same private DM; the minutes show "Anonymt forslag".
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import CannotSign
from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.i18n import Translator, translator
from bot.core.messages import Field_, Form, Option, Reply
from bot.core.outbox import Outgoing, to_member, to_unit_channel
from bot.core.router import FlowContext, Router
from flows.agenda import (
    TEXT_MAX,
    chair_roles,
    chairs_of,
    keys,
    meeting_after,
    note,
    proposer_side,
    reference,
    refresh_post,
    speak,
    stamp,
    tell_chairs,
    when,
)
from flows.agenda.export import agenda_message
from flows.approvals import is_approved, sign
from flows.approvals import sides_of as approval_sides
from flows.decisions import (
    KINDS,
    ApproveMinutes,
    Decide,
    DecideForm,
    DecisionRefused,
    check_decidable,
    decision_line,
    decisions_of,
    items_of,
    kind_label,
    minutes_of,
    minutes_subject,
    record_decision,
)
from flows.med_network import pass_proposal
from flows.med_tree import neighbours, parent_committee, units_informed
from flows.minutes_doc import build_minutes
from storage.models import Committee, Decision, Meeting, Member, Proposal, Support, Unit

log = logging.getLogger("medpuls.minutes")

# --- publishing ---------------------------------------------------------------------------------


def audience(session: Session, p: Proposal) -> tuple[list[Member], list[Member]]:
    """Who hears the decision privately: the proposer side of the item and of proposals merged
    into it (first), and everyone who backed any of them (second)."""
    merged = list(session.scalars(select(Proposal).where(Proposal.merged_into_id == p.id)))
    own: dict[int, Member] = {}
    for source in (p, *merged):
        for m in proposer_side(session, source):
            own.setdefault(m.id, m)
    backers = session.scalars(
        select(Member)
        .join(Support, Support.member_id == Member.id)
        .where(Support.proposal_id.in_([p.id, *(q.id for q in merged)]), Member.erased.is_(False))
        .order_by(Member.id)
    )
    supporters = {m.id: m for m in backers if m.id not in own}
    return list(own.values()), list(supporters.values())


def tell_people(
    session: Session, meeting: Meeting, p: Proposal, d: Decision, settings: Settings
) -> list[Outgoing]:
    own, supporters = audience(session, p)
    target = session.get(Committee, d.referred_to_id) if d.referred_to_id else None
    items = []
    for role, people in (("proposer", own), ("supporter", supporters)):
        for m in people:
            t = speak(m, settings.language)
            text = t(
                f"minutes.{role}_told",
                committee=meeting.committee.name,
                title=p.title,
                ref=reference(p, settings.tz),
                meeting=when(t, meeting.starts_at, settings.tz),
                decision=decision_line(t, d, target.name if target else None),
            )
            items.append(
                to_member(
                    m.id,
                    keys.minutes_told(meeting.id, p.id, role, m.id),
                    note(text),
                    purpose=f"minutes.{role}",
                )
            )
    return items


def take_effect(ctx: FlowContext, meeting: Meeting, p: Proposal, d: Decision) -> None:
    """What the decision does to the proposal, once the minutes are approved."""
    if d.kind == "postponed":
        following = meeting_after(ctx.session, meeting)
        p.meeting_id = following.id if following is not None else None
        p.status = "later"
    elif d.kind == "referred":
        target = ctx.session.get(Committee, d.referred_to_id) if d.referred_to_id else None
        if target is not None:
            ctx.send(
                *pass_proposal(ctx.session, p, target, d.reason, ctx.settings, ctx.now, tell=False)
            )
    else:
        p.status = "decided"
        p.decision = f"{kind_label(translator(ctx.settings.language), d.kind)}. {d.reason}"
        p.follow_up_owner, p.follow_up_date = d.follow_up_owner, d.follow_up_date
    ctx.session.flush()
    refresh_post(ctx, p)


def channels_for(session: Session, committee: Committee) -> list[Unit]:
    units = units_informed(session, committee)
    parent = parent_committee(session, committee)
    if parent is not None and parent.unit_id not in {u.id for u in units}:
        units.append(parent.unit)
    return units


def publish_minutes(ctx: FlowContext, meeting: Meeting) -> None:
    """Both sides approved: decisions take effect; the minutes and the reasons go out, once."""
    minutes = minutes_of(ctx.session, meeting)
    assert minutes is not None
    if minutes.published_at is not None:
        return
    decided = decisions_of(ctx.session, meeting)
    people: list[Outgoing] = []
    for p in items_of(ctx.session, meeting):
        d = decided[p.id]
        # Told before it moves: the proposer side is the same, the wording names this meeting.
        people.extend(tell_people(ctx.session, meeting, p, d, ctx.settings))
        take_effect(ctx, meeting, p, d)
    minutes.published_at = ctx.now
    message = agenda_message(
        build_minutes(ctx.session, meeting, translator(ctx.settings.language), ctx.settings.tz)
    )
    ctx.send(
        *(
            to_unit_channel(
                unit.id,
                keys.minutes_published(meeting.id, unit.id),
                message,
                purpose="minutes.published",
            )
            for unit in channels_for(ctx.session, meeting.committee)
        ),
        *people,
    )
    log.info("minutes published", extra={"meeting": meeting.id, "committee": meeting.committee_id})


# --- chat: recording ------------------------------------------------------------------------------


def _guard(ctx: FlowContext, p: Proposal, action: str) -> Reply | None:
    if chair_roles(ctx.session, ctx.member, p.committee):
        ctx.audit(action, f"proposal:{p.id}", allowed=True)
        return None
    ctx.audit(action, f"proposal:{p.id}", allowed=False)
    return Reply.note(ctx.t("agenda.chairs_only"))


def _held(ctx: FlowContext, p: Proposal) -> Meeting | Reply:
    if p.meeting is None:
        return Reply.note(ctx.t("minutes.not_an_item"))
    try:
        check_decidable(ctx.session, p.meeting, p, ctx.now)
    except DecisionRefused as refused:
        meeting = when(ctx.t, p.meeting.starts_at, ctx.settings.tz)
        return Reply.note(ctx.t(f"minutes.{refused.key}", meeting=meeting))
    return p.meeting


def decide_form(ctx: FlowContext, p: Proposal, meeting: Meeting) -> Form:
    t = ctx.t
    d = decisions_of(ctx.session, meeting).get(p.id)
    targets = neighbours(ctx.session, p.committee)
    fields = [
        Field_(
            name="kind",
            label=t("minutes.field_kind"),
            kind="choice",
            options=[Option(value=k, label=kind_label(t, k)) for k in KINDS],
            initial=d.kind if d else None,
        ),
        Field_(
            name="reason",
            label=t("minutes.field_reason"),
            kind="textarea",
            max_length=TEXT_MAX,
            initial=d.reason if d else None,
            hint=t("minutes.reason_hint"),
        ),
    ]
    if targets:
        fields.append(
            Field_(
                name="target",
                label=t("minutes.field_target"),
                kind="choice",
                required=False,
                options=[Option(value=str(c.id), label=c.name[:75]) for c in targets],
            )
        )
    fields += [
        Field_(name="owner", label=t("agenda.field_owner"), required=False, max_length=200),
        Field_(name="follow_up", label=t("agenda.field_follow_up"), kind="date", required=False),
    ]
    return Form(
        data=DecideForm(p=p.id).pack(),
        title=t("minutes.form_title"),
        submit=t("minutes.form_submit"),
        intro=f"*{p.title}* · {reference(p, ctx.settings.tz)}",
        fields=fields,
    )


def _decidable(ctx: FlowContext, proposal_id: int) -> tuple[Proposal, Meeting] | Reply:
    """The proposal and the held meeting it is decided at, or why the actor may not decide."""
    p = ctx.session.get(Proposal, proposal_id)
    if p is None:
        return Reply.note(ctx.t("agenda.no_such_proposal"))
    refused = _guard(ctx, p, "minutes.decide")
    if refused is not None:
        return refused
    held = _held(ctx, p)
    return held if isinstance(held, Reply) else (p, held)


def on_decide(ctx: FlowContext, event: ButtonClicked, data: Decide) -> Reply:
    found = _decidable(ctx, data.p)
    if isinstance(found, Reply):
        return found
    return Reply(form=decide_form(ctx, *found))


def _parse(ctx: FlowContext, values: dict[str, str]) -> dict[str, str] | Reply:
    """The form's values, or the fields' errors."""
    t = ctx.t
    errors = {}
    if values.get("kind") not in KINDS:
        errors["kind"] = t("agenda.error_required")
    if not values.get("reason"):
        errors["reason"] = t("agenda.error_required")
    if values.get("kind") == "referred" and not values.get("target", "").isdigit():
        errors["target"] = t("minutes.bad_target")
    if values.get("follow_up"):
        try:
            dt.date.fromisoformat(values["follow_up"][:10])
        except ValueError:
            errors["follow_up"] = t("agenda.error_date")
    return Reply(errors=errors) if errors else values


def on_decide_submit(ctx: FlowContext, event: FormSubmitted, data: DecideForm) -> Reply:
    found = _decidable(ctx, data.p)
    if isinstance(found, Reply):
        return found
    p, held = found
    values = _parse(ctx, {k: (v or "").strip() for k, v in event.values.items()})
    if isinstance(values, Reply):
        return values
    # Only a neighbour counts; anything else (a forged id, text) is "no target".
    chosen = values.get("target", "")
    targets = {c.id: c for c in neighbours(ctx.session, p.committee)}
    target = targets.get(int(chosen)) if chosen.isdigit() else None
    follow_up = values.get("follow_up")
    try:
        voided = record_decision(
            ctx.session,
            held,
            p,
            values["kind"],
            values["reason"],
            ctx.now,
            referred_to=target,
            owner=values.get("owner"),
            follow_up=dt.date.fromisoformat(follow_up[:10]) if follow_up else None,
        )
    except DecisionRefused as bad:
        return Reply(
            errors={"target" if bad.key == "bad_target" else "reason": ctx.t(f"minutes.{bad.key}")}
        )
    actor = ctx.member
    assert actor is not None
    d = decisions_of(ctx.session, held)[p.id]

    def text(tt: Translator) -> str:
        line = decision_line(tt, d, target.name if target and d.referred_to_id else None)
        done = tt("minutes.chair_recorded", actor=actor.name, title=p.title, decision=line)
        return done + ("\n" + tt("minutes.approvals_reset") if voided else "")

    ctx.send(
        *tell_chairs(
            ctx.session, p.committee, actor, ctx.settings, f"p{p.id}:decide:{stamp(ctx.now)}", text
        )
    )
    return Reply.note(text(ctx.t))


def recorded_outside_chat(
    session: Session, meeting: Meeting, p: Proposal, voided: bool, settings: Settings
) -> list[Outgoing]:
    """A decision typed in from the exported agenda (`medpuls minutes record`): both chairs
    hear of it in chat, and that an approval given before it no longer counts."""
    d = decisions_of(session, meeting)[p.id]
    target = session.get(Committee, d.referred_to_id) if d.referred_to_id else None
    items = []
    for chair in chairs_of(session, p.committee):
        t = speak(chair, settings.language)
        text = t(
            "minutes.recorded_from_export",
            title=p.title,
            decision=decision_line(t, d, target.name if target else None),
        )
        items.append(
            to_member(
                chair.id,
                keys.minutes_from_export(meeting.id, p.id, d.recorded_at, chair.id),
                note(text + ("\n" + t("minutes.approvals_reset") if voided else "")),
                purpose="agenda.chair",
            )
        )
    return items


# --- chat: approving ----------------------------------------------------------------------------


def on_approve_minutes(ctx: FlowContext, event: ButtonClicked, data: ApproveMinutes) -> Reply:
    meeting = ctx.session.get(Meeting, data.m)
    if meeting is None:
        return Reply.note(ctx.t("agenda.no_such_meeting"))
    t, committee, actor = ctx.t, meeting.committee, ctx.member
    if actor is None or not approval_sides(ctx.session, actor, committee):
        ctx.audit("minutes.approve", f"meeting:{meeting.id}", allowed=False)
        return Reply.note(t("agenda.chairs_only"))
    minutes = minutes_of(ctx.session, meeting)
    if minutes is not None and minutes.published_at is not None:
        return Reply.note(t("minutes.published"))
    if minutes is None or len(decisions_of(ctx.session, meeting)) < len(
        items_of(ctx.session, meeting)
    ):
        return Reply.note(t("minutes.missing_decisions"))
    if data.v != minutes.version:
        return Reply.note(t("minutes.approve_stale"))
    subject = minutes_subject(minutes)
    try:
        sign(ctx.session, committee, subject, actor, ctx.now)
    except CannotSign as no:
        return Reply.note(
            t("minutes.already_approved" if no.reason == "signed" else "minutes.side_approved")
        )
    ctx.audit("minutes.approve", f"meeting:{meeting.id}", allowed=True, version=minutes.version)
    both = is_approved(ctx.session, subject)
    tz = ctx.settings.tz

    def text(tt: Translator) -> str:
        return tt(
            "minutes.chair_approved_both" if both else "minutes.chair_approved_one",
            actor=actor.name,
            committee=committee.name,
            meeting=when(tt, meeting.starts_at, tz),
        )

    ctx.send(
        *tell_chairs(
            ctx.session,
            committee,
            actor,
            ctx.settings,
            keys.minutes_approved(meeting.id, minutes.version, ctx.now),
            text,
        )
    )
    if both:
        publish_minutes(ctx, meeting)
    return Reply.note(text(t))


def register(router: Router) -> None:
    router.action(Decide)(on_decide)
    router.form(DecideForm)(on_decide_submit)
    router.action(ApproveMinutes)(on_approve_minutes)
