"""The figures a digest is made of: tallies and turnout of a group in a week, and what a
digest may say about one unit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# A move of a few points in a group of five to twenty people is noise, not a trend.
TREND_STEP = 3.0


# Slots: a big organisation holds a couple of hundred thousand of these.
@dataclass(slots=True)
class Tally:
    """A dimension's answers of one group in one week."""

    people: int = 0
    answers: int = 0
    value_sum: int = 0
    favourable: int = 0
    neutral: int = 0
    unfavourable: int = 0

    def add(self, other: Tally) -> None:
        self.people += other.people
        self.answers += other.answers
        self.value_sum += other.value_sum
        self.favourable += other.favourable
        self.neutral += other.neutral
        self.unfavourable += other.unfavourable

    @property
    def score(self) -> float:
        """The 0-100 score of the mean answer (1 -> 0, 5 -> 100)."""
        return (self.value_sum / self.answers - 1.0) * 25.0 if self.answers else 0.0


@dataclass(slots=True)
class Turnout:
    asked: int = 0
    answered: int = 0

    def add(self, other: Turnout) -> None:
        self.asked += other.asked
        self.answered += other.answered


@dataclass(frozen=True)
class OrgUnit:
    id: int
    path: str
    name: str
    parent_id: int | None


@dataclass(frozen=True)
class DimensionLine:
    dimension: str
    label: str
    score: float
    change: float | None
    measured: dt.date


@dataclass(frozen=True)
class UnitPulse:
    """What a digest may say about one unit (its whole subtree): only shown figures."""

    unit: OrgUnit
    has_data: bool
    # The latest week anything was measured in the subtree; None without any data.
    week: dt.date | None
    turnout: Turnout | None
    lines: list[DimensionLine]
    series: dict[str, list[float | None]]

    @property
    def lowest(self) -> DimensionLine | None:
        return min(self.lines, key=lambda line: line.score, default=None)

    @property
    def biggest_drop(self) -> DimensionLine | None:
        drops = [ln for ln in self.lines if ln.change is not None and ln.change <= -TREND_STEP]
        return min(drops, key=lambda line: line.change or 0.0, default=None)


@dataclass
class Pipeline:
    new: int = 0
    on_agenda: int = 0
    awaiting: int = 0
