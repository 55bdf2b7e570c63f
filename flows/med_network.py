"""MED up and down (issue 18, point 5): a committee passes a proposal to its parent or a child
committee.

The chair or vice-chair presses "Send videre" on a proposal not yet on an agenda, picks the
committee (flows.med_tree.neighbours) and gives a reason; an item decided "sendt videre" at a
meeting moves the same way when the minutes are approved (flows.minutes). The proposal keeps
its supporters, its reference and its anonymity: the receiving committee sees it exactly as
the first one did (flows.agenda.render.shown_as), its chairs hear of it at once, and the
proposer is told privately where it went and why, anonymous or not.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Field_, Form, Option, Reply
from bot.core.outbox import Outgoing
from bot.core.router import FlowContext, Router
from flows.agenda import (
    TEXT_MAX,
    UNTRIAGED,
    chair_roles,
    chairs_of,
    keys,
    meeting_for_new_proposal,
    reference,
    refresh_post,
    stamp,
    tell_chairs,
    tell_proposer,
)
from flows.agenda.alerts import alert_chairs
from flows.agenda.render import tell_each
from flows.decisions import PassForm, PassOn
from flows.med_tree import neighbours, parent_committee
from storage.models import Committee, Proposal

log = logging.getLogger("medpuls.med_network")


def direction(session: Session, source: Committee, target: Committee) -> str:
    parent = parent_committee(session, source)
    return "up" if parent is not None and parent.id == target.id else "down"


def pass_proposal(
    session: Session,
    p: Proposal,
    target: Committee,
    reason: str,
    settings: Settings,
    now: dt.datetime,
    *,
    tell: bool = True,
) -> list[Outgoing]:
    """Move the proposal to `target`'s next open meeting; returns who must hear of it (the
    proposer side too unless `tell` is False: the minutes tell them already)."""
    source = p.committee
    way = direction(session, source, target)
    meeting = meeting_for_new_proposal(session, target.id, now)
    p.committee_id = target.id
    p.meeting_id = meeting.id if meeting is not None else None
    p.status = "new"
    p.recommendation = None
    session.flush()
    session.refresh(p)
    key = keys.passed(p.id, target.id, now)

    def told(t: Translator) -> str:
        return t(
            f"med.proposer_passed_{way}",
            title=p.title,
            ref=reference(p, settings.tz),
            source=source.name,
            target=target.name,
            reason=reason,
        )

    arrivals = tell_each(
        chairs_of(session, target),
        settings,
        lambda m: keys.to_target(key, m),
        lambda t: t("med.arrived", title=p.title, source=source.name, reason=reason),
        "agenda.chair",
    )
    log.info("proposal passed", extra={"proposal": p.id, "committee": target.id, "way": way})
    return [
        *(tell_proposer(session, p, settings, key, told) if tell else []),
        *arrivals,
        *alert_chairs(session, p, settings),
    ]


def on_pass(ctx: FlowContext, event: ButtonClicked, data: PassOn) -> Reply:
    p = _passable(ctx, data.p)
    if isinstance(p, Reply):
        return p
    t = ctx.t
    options = [
        Option(
            value=str(c.id),
            label=t(f"med.option_{direction(ctx.session, p.committee, c)}", committee=c.name)[:75],
        )
        for c in neighbours(ctx.session, p.committee)
    ]
    return Reply(
        form=Form(
            data=PassForm(p=p.id).pack(),
            title=t("med.form_title"),
            submit=t("med.form_submit"),
            intro=f"*{p.title}* · {reference(p, ctx.settings.tz)}",
            fields=[
                Field_(name="target", label=t("med.field_target"), kind="choice", options=options),
                Field_(
                    name="reason",
                    label=t("med.field_reason"),
                    kind="textarea",
                    max_length=TEXT_MAX,
                    hint=t("med.reason_hint"),
                ),
            ],
        )
    )


def _passable(ctx: FlowContext, proposal_id: int) -> Proposal | Reply:
    """The proposal, if this member may pass it on now; else the answer why not."""
    p = ctx.session.get(Proposal, proposal_id)
    if p is None:
        return Reply.note(ctx.t("agenda.no_such_proposal"))
    return _refused(ctx, p) or p


def _refused(ctx: FlowContext, p: Proposal) -> Reply | None:
    """Only the committee's chairs; only a proposal not yet on an agenda; only if there is
    a committee to pass it to."""
    if not chair_roles(ctx.session, ctx.member, p.committee):
        ctx.audit("med.pass", f"proposal:{p.id}", allowed=False)
        return Reply.note(ctx.t("agenda.chairs_only"))
    if p.status not in UNTRIAGED:
        return Reply.note(ctx.t("med.not_passable"))
    if not neighbours(ctx.session, p.committee):
        return Reply.note(ctx.t("med.no_neighbours", committee=p.committee.name))
    return None


def on_pass_submit(ctx: FlowContext, event: FormSubmitted, data: PassForm) -> Reply:
    p = _passable(ctx, data.p)
    if isinstance(p, Reply):
        return p
    t = ctx.t
    chosen = (event.values.get("target") or "").strip()
    targets = {c.id: c for c in neighbours(ctx.session, p.committee)}
    target = targets.get(int(chosen)) if chosen.isdigit() else None
    reason = (event.values.get("reason") or "").strip()[:TEXT_MAX]
    errors = {}
    if target is None:
        errors["target"] = t("med.error_target")
    if not reason:
        errors["reason"] = t("agenda.error_required")
    if target is None or errors:
        return Reply(errors=errors)
    actor = ctx.member
    assert actor is not None
    source = p.committee
    ctx.audit("med.pass", f"proposal:{p.id}", allowed=True, to=f"committee:{target.id}")
    ctx.send(*pass_proposal(ctx.session, p, target, reason, ctx.settings, ctx.now))

    def done(tt: Translator) -> str:
        return tt(
            "med.chair_passed",
            actor=actor.name,
            title=p.title,
            source=source.name,
            target=target.name,
            reason=reason,
        )

    ctx.send(
        *tell_chairs(
            ctx.session, source, actor, ctx.settings, f"p{p.id}:pass:{stamp(ctx.now)}", done
        )
    )
    refresh_post(ctx, p)
    return Reply.note(done(t))


def register(router: Router) -> None:
    router.action(PassOn)(on_pass)
    router.form(PassForm)(on_pass_submit)
