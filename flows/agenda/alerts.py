"""The chair hears of new proposals at once (issue 18, point 2).

When a proposal reaches a committee, its chair and vice-chair each get a DM with the proposal
and the triage buttons, or, if they chose so, one daily bundle at 08:00 of the proposals that
came in the 24 hours before. The message shows the proposal as the committee sees it
(flows.agenda.render.shown_as): an anonymous proposer stays anonymous. The choice is a button
in each message and the command `forslagsbesked straks|dagligt`.

The scheduler knows the bundle job as flows.agenda_alerts.send_bundles and the router finds
these listeners through flows/agenda_alerts.py, which registers this module under that name.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.events import ButtonClicked, CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Header,
    Message,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import Outgoing, queue, to_member
from bot.core.router import FlowContext, Router
from flows.agenda import keys
from flows.agenda.committees import chaired_by, chairs_of
from flows.agenda.render import proposal_text, reference, shown_as, speak
from flows.agenda.statuses import UNTRIAGED
from flows.agenda.view import triage_buttons
from storage.db import Database
from storage.models import Member, Proposal, ProposalAlerts

Mode = Literal["each", "daily"]
BUNDLE_TIME = dt.time(8, 0)
MODE_WORDS: dict[str, Mode] = {
    "straks": "each",
    "hver": "each",
    "each": "each",
    "now": "each",
    "dagligt": "daily",
    "daglig": "daily",
    "daily": "daily",
}


class AlertMode(ActionData):
    kind = "agenda.alerts"
    m: Mode


def mode_of(session: Session, member: Member) -> Mode:
    row = session.get(ProposalAlerts, member.id)
    return "daily" if row is not None and row.mode == "daily" else "each"


def set_mode(session: Session, member: Member, mode: Mode) -> None:
    row = session.get(ProposalAlerts, member.id)
    if row is None:
        session.add(ProposalAlerts(member_id=member.id, mode=mode))
    else:
        row.mode = mode


def proposal_parts(session: Session, p: Proposal, t: Translator, tz: dt.tzinfo) -> list[Part]:
    head = f"*{p.title}* · {reference(p, tz)} · {shown_as(session, p, t)}"
    return [Text(text=f"{head}\n{proposal_text(p, t)}"), triage_buttons(p, t)]


def switch_button(t: Translator, to: Mode) -> Buttons:
    return Buttons(
        buttons=[Button(label=t(f"agenda.alerts_switch_{to}"), data=AlertMode(m=to).pack())]
    )


def alert_message(session: Session, p: Proposal, t: Translator, tz: dt.tzinfo) -> Message:
    title = t("agenda.alert_title", committee=p.committee.name)
    return Message(
        summary=f"{title}: {p.title}",
        parts=[
            Header(text=title),
            *proposal_parts(session, p, t, tz),
            SmallPrint(text=t("agenda.alerts_each_note")),
            switch_button(t, "daily"),
        ],
    )


def alert_chairs(session: Session, p: Proposal, settings: Settings) -> list[Outgoing]:
    """A DM per chair who wants each proposal at once (the default)."""
    return [
        to_member(
            chair.id,
            keys.alert(p.id, chair.id),
            alert_message(session, p, speak(chair, settings.language), settings.tz),
            purpose="agenda.alert",
        )
        for chair in chairs_of(session, p.committee)
        # Who made or presented it needs no news of it.
        if mode_of(session, chair) == "each" and chair.id not in (p.proposer_id, p.presenter_id)
    ]


def send_bundles(db: Database, settings: Settings, now: dt.datetime) -> None:
    """At 08:00, those who chose a daily bundle get the proposals of the 24 hours before."""
    tz = settings.tz
    local = now.astimezone(tz)
    if local.time() < BUNDLE_TIME:
        return
    end = dt.datetime.combine(local.date(), BUNDLE_TIME, tzinfo=tz)
    start = end - dt.timedelta(days=1)
    with db.session() as session:
        daily = session.scalars(
            select(ProposalAlerts)
            .where(ProposalAlerts.mode == "daily")
            .order_by(ProposalAlerts.member_id)
        ).all()
        items: list[Outgoing] = []
        for pref in daily:
            member = session.get(Member, pref.member_id)
            if member is None or member.erased:
                continue
            committees = {c.id: c for c in chaired_by(session, member)}
            if not committees:
                continue
            proposals = session.scalars(
                select(Proposal)
                .where(
                    Proposal.committee_id.in_(committees),
                    Proposal.status.in_(UNTRIAGED),
                    Proposal.created_at >= start,
                    Proposal.created_at < end,
                )
                .order_by(Proposal.committee_id, Proposal.id)
            ).all()
            if not proposals:
                continue
            t = speak(member, settings.language)
            parts: list[Part] = [Header(text=t("agenda.bundle_title", n=len(proposals)))]
            for p in proposals:
                parts.extend([Divider(), SmallPrint(text=p.committee.name)])
                parts.extend(proposal_parts(session, p, t, tz))
            parts.extend([SmallPrint(text=t("agenda.alerts_daily_note")), switch_button(t, "each")])
            items.append(
                to_member(
                    member.id,
                    keys.bundle(local.date(), member.id),
                    Message(summary=t("agenda.bundle_title", n=len(proposals)), parts=parts),
                    purpose="agenda.alert",
                )
            )
        queue(session, items)


def _choose(ctx: FlowContext, mode: Mode) -> Reply:
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    if not chaired_by(ctx.session, member):
        ctx.audit("agenda.alerts", "mode", allowed=False)
        return Reply.note(ctx.t("agenda.chairs_only"))
    set_mode(ctx.session, member, mode)
    ctx.audit("agenda.alerts", "mode", mode=mode)
    return Reply.note(ctx.t(f"agenda.alerts_now_{mode}"))


def on_alert_mode(ctx: FlowContext, event: ButtonClicked, data: AlertMode) -> Reply:
    return _choose(ctx, data.m)


def on_alerts_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    words = event.text.split()
    if len(words) > 1 and words[1].lower() in MODE_WORDS:
        return _choose(ctx, MODE_WORDS[words[1].lower()])
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    current = mode_of(ctx.session, member)
    other: Mode = "daily" if current == "each" else "each"
    text = ctx.t(f"agenda.alerts_now_{current}") + "\n" + ctx.t("agenda.alerts_usage")
    return Reply(notice=Message(summary=text, parts=[Text(text=text), switch_button(ctx.t, other)]))


JOBS = [send_bundles]


def register(router: Router) -> None:
    router.command("forslagsbesked", "proposal-alerts")(on_alerts_command)
    router.action(AlertMode)(on_alert_mode)
