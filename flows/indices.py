"""Two indices per unit, week by week: social capital and relational coordination (issue 17).

Social capital, as the seed bank's social_capital.yaml describes it and as Lejre and Aarhus
measure it: trust (between management and staff, among colleagues), justice (the distribution of
work, the handling of conflicts, being heard) and cooperation on the core task (the core task
itself, within the team, between teams, with management). The index of a week is the mean of its
three components, each the mean of its dimensions' scores. Relational coordination is the mean of
its seven dimensions (relational_coordination.yaml).

Only published figures go in: a dimension's score of a week is one the digest showed (decided by
flows.disclosure and the ledger, flows.ledger), or a figure pooled over weeks that the ledger let
out (flows.pooling). An index is arithmetic on figures already shown, so it shows nothing new.

The rotation asks every dimension once in each ROTATION_WEEKS (flows.question_bank: 16 dimensions,
two a week), so a week's own figures hold two dimensions at most. A dimension's latest shown score
therefore stands for it until ROTATION_WEEKS have passed; a week has an index point once each
social-capital component, or at least half the relational-coordination dimensions, has a score
standing. After the first ROTATION_WEEKS of a unit's rounds that is every week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.core.config import Settings
    from bot.core.i18n import Lang
    from flows.digest import Picture
    from flows.question_bank import QuestionBank

__all__ = [
    "INDICES",
    "RELATIONAL_COORDINATION",
    "ROTATION_WEEKS",
    "SOCIAL_CAPITAL",
    "carried",
    "dimension_label",
    "index_points",
    "index_series",
    "picture_index_series",
]

# flows.question_bank.pick_questions: each dimension comes round every 8 weekly rounds.
ROTATION_WEEKS = 8
# flows.pooling.POOL_MIN_WEEKS: how often a unit's pools over weeks are decided.
POOL_EVERY = 4

SOCIAL_CAPITAL: Mapping[str, tuple[str, ...]] = {
    "trust": ("trust_vertical", "trust_horizontal"),
    "justice": ("justice_distribution", "justice_conflicts", "justice_voice"),
    "cooperation": ("cooperation_core_task", "bonding", "bridging", "linking"),
}
RELATIONAL_COORDINATION: tuple[str, ...] = (
    "rc_frequent",
    "rc_timely",
    "rc_accurate",
    "rc_problem_solving",
    "rc_shared_goals",
    "rc_shared_knowledge",
    "rc_mutual_respect",
)
INDICES = ("social_capital", "relational_coordination")


def dimension_label(bank: QuestionBank, dimension: str, lang: Lang) -> str:
    """The dimension's name in the bank in force (flows.question_bank.question_bank), or its
    key where the bank does not know it."""
    dims = bank.dimensions
    return dims[dimension].label.get(lang) if dimension in dims else dimension


Series = list[float | None]


def carried(weekly: Sequence[float | None], weeks: int = ROTATION_WEEKS) -> Series:
    """Each week's latest shown score of the `weeks` weeks up to it (None if there is none)."""
    out: Series = []
    last: tuple[int, float] | None = None
    for i, value in enumerate(weekly):
        if value is not None:
            last = (i, value)
        out.append(last[1] if last is not None and i - last[0] < weeks else None)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def index_points(
    by_dimension: Mapping[str, Sequence[float | None]], length: int | None = None
) -> dict[str, Series]:
    """Both indices, week by week, from each dimension's weekly *shown* scores (None where
    nothing was shown); the dimensions' own lists are returned carried, under their ids."""
    if length is None:
        length = max((len(v) for v in by_dimension.values()), default=0)
    standing = {
        dim: carried(list(v) + [None] * (length - len(v))) for dim, v in by_dimension.items()
    }

    def at(dim: str, w: int) -> float | None:
        values = standing.get(dim)
        return None if values is None else values[w]

    social: Series = []
    relational: Series = []
    for w in range(length):
        parts = []
        for dims in SOCIAL_CAPITAL.values():
            present = [v for d in dims if (v := at(d, w)) is not None]
            if present:
                parts.append(_mean(present))
        social.append(_mean(parts) if len(parts) == len(SOCIAL_CAPITAL) else None)
        rc = [v for d in RELATIONAL_COORDINATION if (v := at(d, w)) is not None]
        relational.append(_mean(rc) if 2 * len(rc) >= len(RELATIONAL_COORDINATION) else None)
    return {"social_capital": social, "relational_coordination": relational, **standing}


def picture_index_series(picture: Picture, unit_id: int, weeks: int = 12) -> dict[str, Series]:
    """The unit's indices (and carried dimension scores) over the picture's last `weeks` weeks,
    oldest first; keys "social_capital", "relational_coordination" and each dimension's id.

    The picture's earlier weeks (flows.digest.EARLIER_WEEKS) let the first shown week already
    carry the scores measured before it.
    """
    scores = picture.shown_scores(unit_id)
    total = len(picture.weeks)
    points = index_points(scores, total)
    # Where a week's own figures cannot make an index, a pool over weeks may (flows.pooling).
    # A pool is decided every POOL_EVERY weeks and stands until the next.
    for key in INDICES:
        for w, figure in sorted(picture.pooled.get((unit_id, key), {}).items()):
            for later in range(w, min(w + POOL_EVERY, total)):
                if points[key][later] is None:
                    points[key][later] = figure.score
    return {
        key: values[total - weeks :] if weeks <= total else values for key, values in points.items()
    }


def index_series(
    session: Session,
    unit_id: int,
    weeks: int = 12,
    *,
    settings: Settings,
    now: dt.datetime,
) -> dict[str, Series]:
    """`picture_index_series` for one unit, loading the week's picture (every figure decided by
    the ledger, as the digest does). Use the digest's own Picture where there is one."""
    from flows.digest import load_picture  # the digest's loader; digest imports this module

    return picture_index_series(load_picture(session, settings, now), unit_id, weeks)
