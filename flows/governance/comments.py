"""The chair's view of a closed round's comments: only groups that clear the comment threshold,
scrubbed and in random order, each with a Hide button."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.errors import NotAllowed
from bot.core.events import CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import Button, Buttons, Divider, Header, Message, Reply, SmallPrint, Text
from bot.core.router import FlowContext
from flows.access import latest_batch, refuse, require_results_access
from flows.disclosure import (
    comment_home,
)
from flows.governance.actions import CommentHide
from flows.governance.sides import chaired
from flows.scrub import scrub
from storage.models import Answer, Committee, HideRequest, Member, Participation, Unit
from storage.queries import subtree


def publishable_comments(
    session: Session, committee: Committee
) -> tuple[list[tuple[Unit, list[Answer]]], int]:
    """The latest closed round's comments in the committee's units, grouped where the comment
    group clears the threshold; and how many are hidden. Groups that do not clear it, and
    their comments, are left out entirely."""
    units = subtree(session, committee.unit)
    ids = {u.id for u in units}
    batch = [r for r in latest_batch(session, units) if r.unit_id in ids]
    if not batch:
        return [], 0
    by_unit = {r.unit_id: r for r in batch}
    counts = {
        str(r.unit_id): int(
            session.scalar(
                select(func.count()).where(
                    Participation.round_id == r.id, Participation.answered.is_(True)
                )
            )
            or 0
        )
        for r in batch
    }
    parents = {str(u.id): (str(u.parent_id) if u.id != committee.unit_id else None) for u in units}
    minimum = max(r.min_comment_group_size for r in batch)
    homes: dict[int, list[Answer]] = {}
    hidden = 0
    for unit_id, r in by_unit.items():
        home = comment_home(str(unit_id), counts, parents, minimum)
        if home is None:
            continue
        for answer in session.scalars(
            select(Answer).where(Answer.round_id == r.id, Answer.comment.is_not(None))
        ):
            if answer.hidden:
                hidden += 1
            else:
                homes.setdefault(int(home), []).append(answer)
    by_id = {u.id: u for u in units}
    groups = []
    for unit_id, answers in sorted(homes.items(), key=lambda kv: by_id[kv[0]].path):
        # Random order: neither the order of answering nor of storage may show through.
        random.SystemRandom().shuffle(answers)
        groups.append((by_id[unit_id], answers))
    return groups, hidden


def pending_hides(session: Session, committee: Committee) -> set[tuple[int, str, str]]:
    """The answers of the committee's comments that wait for the other side's answer."""
    rows = session.scalars(
        select(HideRequest).where(
            HideRequest.committee_id == committee.id, HideRequest.outcome.is_(None)
        )
    )
    return {(h.round_id, h.question_id, h.respondent_key) for h in rows}


def comments_message(session: Session, committee: Committee, t: Translator) -> Message:
    groups, hidden = publishable_comments(session, committee)
    names = list(session.scalars(select(Member.name).where(Member.erased.is_(False))))
    placeholder = t("governance.scrubbed")
    parts: list[Any] = [Header(text=t("governance.comments_title", committee=committee.name))]
    if not groups:
        parts.append(Text(text=t("governance.no_comments")))
    waiting = pending_hides(session, committee)
    for unit, answers in groups:
        parts.extend([Divider(), Text(text=f"*{unit.name}*")])
        for answer in answers:
            parts.append(Text(text=scrub(answer.comment or "", names, placeholder), markdown=False))
            if (answer.round_id, answer.question_id, answer.respondent_key) in waiting:
                parts.append(SmallPrint(text=t("governance.hide_waiting")))
                continue
            parts.append(
                Buttons(
                    buttons=[
                        Button(
                            label=t("governance.hide"),
                            data=CommentHide(
                                c=committee.id,
                                r=answer.round_id,
                                q=answer.question_id,
                                k=answer.respondent_key,
                            ).pack(),
                        )
                    ]
                )
            )
    if hidden:
        parts.append(SmallPrint(text=t.plural("governance.hidden_count", hidden)))
    return Message(summary=t("governance.comments_title", committee=committee.name), parts=parts)


def on_comments(ctx: FlowContext, event: CommandInvoked) -> Reply:
    member = ctx.member
    if member is None:
        raise NotAllowed(ctx.t("common.unknown_user"))
    committees = chaired(ctx.session, member)
    if not committees:
        raise refuse(
            ctx.session,
            ctx.t("governance.chairs_only"),
            member,
            "comments.view",
            "comments",
            now=ctx.now,
        )
    messages = []
    for committee in committees:
        require_results_access(ctx, member, committee.unit, "comments.view")
        messages.append(comments_message(ctx.session, committee, ctx.t))
    if len(messages) == 1:
        return Reply(notice=messages[0])
    parts = [part for m in messages for part in m.parts]
    return Reply(notice=Message(summary=messages[0].summary, parts=parts))
