"""The action plans in the leader's digest: status, and the dimension's trend after the date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.i18n import Translator
from bot.core.messages import Part, Text
from flows.actions.plan import PLAN_WINDOW, dimension_label
from flows.actions.trend import Trend, trend_of, trend_text
from flows.question_bank import QuestionBank, default_bank
from storage.models import Member, TeamAction


@dataclass(frozen=True)
class PlanLine:
    """One action as the leader's digest shows it."""

    text: str
    owner: str | None  # None: the whole team
    due_on: dt.date
    dimension: str
    status: str
    trend: Trend | None  # only after the date


def load_plans(session: Session, now: dt.datetime) -> dict[int, list[PlanLine]]:
    """Every unit's current plan for the digest (actions open or closed recently)."""
    since = now - PLAN_WINDOW
    rows = session.scalars(
        select(TeamAction).order_by(TeamAction.unit_id, TeamAction.due_on, TeamAction.id)
    ).all()
    plans: dict[int, list[PlanLine]] = {}
    for a in rows:
        if a.status != "planned" and (a.closed_at is None or a.closed_at < since):
            continue
        owner = session.get(Member, a.owner_id) if a.owner_id else None
        past = now.date() > a.due_on or a.status != "planned"
        plans.setdefault(a.unit_id, []).append(
            PlanLine(
                a.text,
                None if a.owner_id is None else (owner.name if owner else "?"),
                a.due_on,
                a.dimension,
                a.status,
                trend_of(session, a) if past else None,
            )
        )
    return plans


def plan_parts(
    lines: Sequence[PlanLine], t: Translator, bank: QuestionBank | None = None
) -> list[Part]:
    """The digest's section on the unit's plan: status, and the trend after the date.

    `bank` names the dimensions: pass `question_bank(settings)`; without it, the shipped bank.
    """
    if not lines:
        return []
    bank = bank or default_bank()
    out: list[str] = []
    for line in lines:
        text = t(
            "actions.digest_line",
            text=line.text,
            owner=line.owner or t("actions.whole_team"),
            date=t.date(line.due_on),
            status=t(f"actions.status_{line.status}"),
        )
        if line.trend is not None:
            label = dimension_label(line.dimension, t, bank)
            text += "\n" + t(
                "actions.digest_trend", dimension=label, trend=trend_text(line.trend, t)
            )
        out.append(text)
    counts = {s: sum(ln.status == s for ln in lines) for s in ("planned", "done", "dropped")}
    return [
        Text(text=t("actions.digest_title", **counts)),
        Text(text="\n".join(out)),
    ]
