"""Long texts in channels: a summary in the post, the whole text to whoever asks.

A proposal may hold 3 x 3,000 characters. Posted whole, it fills a channel's screen (and Slack
splits it over sections); so a channel post shows the first ~300 characters, cut at a word,
and a "Vis hele teksten" button that answers the person who clicks, privately (a Slack
ephemeral message, a Teams 1:1 message, the local chat's notice).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.core.actions import ActionData
from bot.core.events import ButtonClicked
from bot.core.i18n import Translator
from bot.core.messages import Button, Buttons, Header, Message, Part, Reply, Text
from bot.core.router import FlowContext, Router
from storage.models import Membership, Proposal

SUMMARY_CHARS = 300
# Statuses in which a proposal stands on its meeting's agenda (flows/agenda/export.py).
PUBLISHED = ("on_agenda", "decided")
ELLIPSIS = "…"


class ShowProposal(ActionData):
    kind = "agenda:full"
    p: int


def summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """`text` itself if it is short; else its start, cut at a word (or a line) and ended
    with "…". A single word longer than `limit` is cut where it must be."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    at = max(window.rfind(" "), window.rfind("\n"))
    if at < limit // 2:
        at = limit - 1
    return window[:at].rstrip(" \n,.;:—-") + ELLIPSIS


def summarized(text: str, t: Translator, button_data: str) -> list[Part]:
    """A long text's summary and the button that shows the whole; a short text as it is."""
    short = summary(text)
    if short == text:
        return [Text(text=text)]
    return [
        Text(text=short),
        Buttons(buttons=[Button(label=t("forms.show_full"), data=button_data)]),
    ]


def _may_read(ctx: FlowContext, proposal: Proposal) -> bool:
    """Whoever could see the proposal in a channel: a member of the unit its post went to, of
    a unit its committee serves once it is on a published agenda, or the committee's chair or
    vice-chair."""
    from flows.agenda import _post_row, chair_roles, units_served

    if ctx.member is None:
        return False
    if chair_roles(ctx.session, ctx.member, proposal.committee):
        return True
    units: set[int] = set()
    row = _post_row(ctx.session, proposal)
    if row is not None and row.address_kind == "unit" and row.address.isdigit():
        units.add(int(row.address))
    meeting = proposal.meeting
    if meeting is not None and meeting.published_at and proposal.status in PUBLISHED:
        units.update(u.id for u in units_served(ctx.session, proposal.committee))
    if not units:
        return False
    found = ctx.session.scalars(
        select(Membership.id).where(
            Membership.member_id == ctx.member.id, Membership.unit_id.in_(units)
        )
    ).first()
    return found is not None


def on_show_proposal(ctx: FlowContext, event: ButtonClicked, data: ShowProposal) -> Reply:
    from flows.agenda import proposal_text

    proposal = ctx.session.get(Proposal, data.p)
    if proposal is None:
        text = ctx.t("forms.full_gone")
        return Reply.note(text)
    if not _may_read(ctx, proposal):
        ctx.audit("agenda.full_text", f"proposal:{proposal.id}", allowed=False)
        text = ctx.t("common.not_allowed")
        return Reply.note(text)
    return Reply(
        notice=Message(
            summary=proposal.title,
            parts=[Header(text=proposal.title), Text(text=proposal_text(proposal, ctx.t))],
        )
    )


def register(router: Router) -> None:
    router.action(ShowProposal)(on_show_proposal)
