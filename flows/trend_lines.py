"""What the digest's trend chart draws, and its words for whoever cannot see it.

Sixteen dimensions on one chart are sixteen tangled lines, each with a point every eighth week.
The chart draws instead the two indices (flows.indices: social capital and relational
coordination, a point in every week once the rotation has come round) and the one dimension
the digest's text calls out: its biggest drop, or, where none fell, the lowest. Every
dimension's latest score stays in the digest's list and in the heat map (flows.heatmap).

Scores are carried for one rotation (flows.indices.carried), so a line has a point in most weeks;
every point is a figure already shown (the digest's gate and the ledger decided it), so the chart
adds no figure of its own. Only sixteen legends exist per language (the watched dimension is the
only line that changes), so flows.charts.TrendPainter draws each frame once.

The alt text names each line with its number of points and its latest value: a screen reader and
Slack's text fallback get what the picture shows, and a test can count the points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.charts import Series
from flows.indices import INDICES, picture_index_series

if TYPE_CHECKING:
    from bot.core.i18n import Translator
    from flows.digest import Picture

__all__ = ["chart_alt", "trend_lines"]


def trend_lines(picture: Picture, unit_id: int, t: Translator) -> list[Series]:
    """The chart's lines for the unit over the picture's shown weeks; [] when none has a
    point (then there is no chart)."""
    weeks = len(picture.shown_weeks)
    points = picture_index_series(picture, unit_id, weeks)
    lines = [
        Series(t(f"charts.{key}"), points[key])
        for key in INDICES
        if any(v is not None for v in points.get(key, ()))
    ]
    # The digest's own callout names it: the biggest drop, else the lowest; so the chart and
    # the text never point at different dimensions.
    pulse = picture.pulse(unit_id, t.lang)
    watched = pulse.biggest_drop or pulse.lowest
    if watched is not None and watched.dimension in points:
        lines.append(Series(watched.label, points[watched.dimension]))
    return lines


def chart_alt(unit: str, lines: list[Series], t: Translator) -> str:
    """ "Graf over 12 uger for Nord: Social kapital (indeks): 12 punkter, seneste 64; ..." """
    described = []
    for line in lines:
        present = [v for v in line.scores if v is not None]
        described.append(
            t.plural(
                "charts.alt_line",
                len(present),
                label=line.label,
                last=t.number(present[-1], 0) if present else "-",
            )
        )
    return t(
        "charts.alt",
        weeks=len(lines[0].scores) if lines else 0,
        unit=unit,
        lines="; ".join(described),
    )
