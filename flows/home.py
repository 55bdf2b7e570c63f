"""One's own page: Slack's App Home, and the card Teams shows when the app is opened or `hjem`.

It gathers what a person would otherwise ask for with four commands: their pulse (open rounds,
pause), their own proposals and what became of them, their committees' next meeting or published
agenda, and, for leaders, chairs and vice-chairs, where their results and digest are. It shows
nothing the person could not already see by those commands: it composes the flows' own views
(pause.status_message, agenda.member_view), so the rules stay where they are.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.core.events import CommandInvoked, MemberJoined
from bot.core.messages import (
    NO_REPLY,
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
from bot.core.outbox import to_member
from bot.core.router import FlowContext, Router
from flows.access import results_roots
from flows.agenda import ProposeOpen, member_view, reference
from flows.keys import home_welcome_key
from flows.pause import status_message
from flows.privacy import privacy_notice_once
from storage.models import DigestPreference, Proposal

# How many of one's own proposals the page lists; older ones are in the agenda's archive.
OWN_PROPOSALS = 5
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def home_view(ctx: FlowContext) -> Message:
    """The page for `ctx.member`, in their language."""
    t, member = ctx.t, ctx.member
    assert member is not None
    parts: list[Part] = [
        Header(text=t("home.title")),
        Text(text=t("home.intro", name=member.name)),
        Divider(),
    ]
    parts.extend(status_message(ctx).parts)
    parts.append(Divider())
    parts.extend(own_proposals(ctx))
    parts.append(Divider())
    parts.extend(member_view(ctx).parts)
    leading = results_part(ctx)
    if leading:
        parts.append(Divider())
        parts.extend(leading)
    parts.append(Divider())
    parts.append(SmallPrint(text=t("home.language", language=t(f"home.language_{t.lang}"))))
    return Message(summary=t("home.title"), parts=parts)


def own_proposals(ctx: FlowContext) -> list[Part]:
    t, member = ctx.t, ctx.member
    assert member is not None
    mine = ctx.session.scalars(
        select(Proposal)
        .where(Proposal.proposer_id == member.id)
        .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        .limit(OWN_PROPOSALS)
    ).all()
    parts: list[Part] = [Header(text=t("home.proposals_title"))]
    if not mine:
        parts.append(Text(text=t("home.proposals_none")))
    for p in mine:
        status = t(f"home.status_{p.status}")
        line = t("home.proposal_line", title=p.title, ref=reference(p, ctx.settings.tz))
        parts.append(Text(text=f"{line}\n{status}"))
    parts.append(Buttons(buttons=[Button(label=t("home.propose"), data=ProposeOpen().pack())]))
    return parts


def results_part(ctx: FlowContext) -> list[Part]:
    """Where a leader's (or a committee chair's) results and digest are, if they have any."""
    t, member = ctx.t, ctx.member
    assert member is not None
    roots = results_roots(ctx.session, member)
    if not roots:
        return []
    names = ", ".join(sorted({u.name for u in roots}))
    pref = ctx.session.get(DigestPreference, member.id)
    if pref is not None and pref.paused:
        digest = t("home.digest_paused")
    else:
        weekday = WEEKDAYS[pref.weekday if pref else 0]
        digest = t(
            "home.digest_when",
            weekday=t(f"home.weekday_{weekday}"),
            time=pref.local_time if pref else "08:00",
        )
    return [
        Header(text=t("home.results_title")),
        Text(text=t("home.results", units=names)),
        Text(text=digest),
    ]


def on_home(ctx: FlowContext, event: CommandInvoked) -> Reply:
    if ctx.member is None or ctx.member.erased:
        return Reply(
            notice=Message(
                summary=ctx.t("home.title"),
                parts=[
                    Header(text=ctx.t("home.title")),
                    Text(text=ctx.t("common.unknown_user")),
                ],
            )
        )
    return Reply(notice=home_view(ctx))


def on_joined(ctx: FlowContext, event: MemberJoined) -> Reply:
    """Installed for oneself (Teams' personal app, a DM opened): the page once, as a welcome,
    with the privacy notice (queued once, like everywhere) beside it."""
    member = ctx.member
    direct = event.conversation is not None and event.conversation.is_direct
    if member is None or member.erased or not direct:
        return NO_REPLY
    ctx.send(*privacy_notice_once(member, ctx.settings))
    ctx.send(to_member(member.id, home_welcome_key(member.id), home_view(ctx), purpose="home"))
    return NO_REPLY


def register(router: Router) -> None:
    router.command("hjem", "home")(on_home)
    router.joined(on_joined)
