"""The anonymity thresholds a round opens with, from the committees over its unit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from storage.models import Committee, Unit


def thresholds_for(session: Session, unit: Unit, settings: Settings) -> tuple[int, int]:
    """Score and comment thresholds in force for a unit, each field on its own.

    The topmost committee above the unit sets the base (its own value, else the
    installation's); every committee below it may only raise it: a committee never goes below
    an ancestor committee's threshold, field by field (issue 13, finding 5).
    """
    chain: list[Committee] = []
    current: Unit | None = unit
    while current is not None:
        committee = session.scalars(
            select(Committee).where(Committee.unit_id == current.id)
        ).first()
        if committee is not None:
            chain.append(committee)
        current = current.parent
    score, comment = settings.min_group_size, settings.min_comment_group_size
    for depth, c in enumerate(reversed(chain)):
        if c.min_group_size is not None:
            score = c.min_group_size if depth == 0 else max(score, c.min_group_size)
        if c.min_comment_group_size is not None:
            comment = (
                c.min_comment_group_size if depth == 0 else max(comment, c.min_comment_group_size)
            )
    return score, comment
