"""Trend charts for digests: one line per dimension over the weeks, as a PNG.

Drawn with matplotlib's Agg backend (no display, no GUI toolkit) on a figure sized for a phone
screen: a chat client shows it about 360-400 points wide, so the text is large and the legend
sits under the plot instead of on top of the lines. Questions rotate, so a dimension is measured
only some weeks: its line joins the weeks it has a figure for. Weeks without one (not asked, or
withheld by the disclosure gate) get no marker, so nothing is drawn that was not measured.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from bot.i18n import Translator

__all__ = ["HEIGHT_PX", "PALETTE", "WIDTH_PX", "Series", "png_of", "trend_figure"]

WIDTH_PX = 900
HEIGHT_PX = 700
_DPI = 100
# Colour-blind safe (Okabe-Ito, then Tol's muted): readable on light and dark chat themes.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#332288",
    "#882255",
    "#117733",
    "#999933",
    "#AA4499",
    "#44AA99",
    "#661100",
    "#6699CC",
    "#888888",
    "#000000",
)


@dataclass(frozen=True)
class Series:
    """One dimension's scores (0-100) per week; None where nothing may be shown."""

    label: str
    scores: Sequence[float | None]


def trend_figure(
    weeks: Sequence[dt.date], series: Sequence[Series], t: Translator, title: str
) -> Figure:
    """The figure, not yet drawn; callers that only want bytes use png_of."""
    fig = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI)
    ax = fig.add_axes((0.1, 0.42, 0.86, 0.5))
    xs = list(range(len(weeks)))
    for i, s in enumerate(series):
        points = [(x, v) for x, v in zip(xs, s.scores, strict=True) if v is not None]
        ax.plot(
            [x for x, _ in points],
            [v for _, v in points],
            color=PALETTE[i % len(PALETTE)],
            linewidth=3,
            marker="o",
            markersize=8,
            label=s.label,
        )
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.5, len(weeks) - 0.5)
    ax.set_yticks([0, 25, 50, 75, 100])
    step = 2 if len(weeks) > 6 else 1
    ax.set_xticks(xs[::step], [t.date(w) for w in weeks][::step], fontsize=14)
    ax.tick_params(axis="y", labelsize=14)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, fontsize=18, loc="left")
    if series:
        fig.legend(
            loc="lower left",
            bbox_to_anchor=(0.02, 0.0),
            ncols=1 if len(series) <= 6 else 2,
            fontsize=13 if len(series) <= 6 else 11,
            frameon=False,
        )
    return fig


def png_of(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()

