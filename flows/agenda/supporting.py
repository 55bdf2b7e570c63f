"""Supporting a proposal, and its post in the unit channel kept up to date.

Support is one per person, a toggle; the post shows a count, never names. Proposer and
presenter cannot back their own proposal. The post is found again by its dedupe key
(flows.agenda.keys.post) and updated in place once it is out.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.events import ButtonClicked, MessageRef
from bot.core.i18n import translator
from bot.core.messages import Reply
from bot.core.outbox import update_of
from bot.core.router import FlowContext
from flows.agenda import keys
from flows.agenda.actions import SupportToggle
from flows.agenda.render import channel_post, note
from flows.agenda.statuses import SUPPORTABLE
from storage.models import OutboxMessage, Proposal, Support


def on_support(ctx: FlowContext, event: ButtonClicked, data: SupportToggle) -> Reply:
    proposal = ctx.session.get(Proposal, data.p)
    member = ctx.member
    if proposal is None or member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    if proposal.status not in SUPPORTABLE:
        return Reply.note(ctx.t("agenda.support_closed"))
    if member.id in (proposal.proposer_id, proposal.presenter_id):
        return Reply.note(ctx.t("agenda.support_own"))
    existing = ctx.session.get(Support, (proposal.id, member.id))
    if existing is None:
        ctx.session.add(Support(proposal_id=proposal.id, member_id=member.id))
        text = ctx.t("agenda.support_added", title=proposal.title)
    else:
        ctx.session.delete(existing)
        text = ctx.t("agenda.support_removed", title=proposal.title)
    ctx.session.flush()
    post = channel_post(ctx.session, proposal, translator(ctx.settings.language))
    if event.message is not None and event.message == posted_ref(ctx.session, proposal):
        return Reply(update=post, notice=note(text))
    refresh_post(ctx, proposal)
    return Reply.note(text)


def _post_row(session: Session, p: Proposal) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == keys.post(p.id))
    ).first()


def posted_ref(session: Session, p: Proposal) -> MessageRef | None:
    row = _post_row(session, p)
    if row is None or not row.message_ref:
        return None
    platform, conversation, message_id = row.message_ref.split("|", 2)
    return MessageRef(platform, conversation, message_id)  # type: ignore[arg-type]


def refresh_post(ctx: FlowContext, p: Proposal) -> None:
    """Bring the channel post up to date: an update once it is out, else a new payload."""
    row = _post_row(ctx.session, p)
    if row is None:
        return
    post = channel_post(ctx.session, p, translator(ctx.settings.language))
    ref = posted_ref(ctx.session, p)
    if ref is not None:
        ctx.send(update_of(ref, keys.post_update(p.id, ctx.now), post, purpose="agenda.post"))
    elif row.status == "pending":
        # Not sent yet: the post goes out as it is now, and nothing needs updating later.
        row.payload = post.model_dump(mode="json")
